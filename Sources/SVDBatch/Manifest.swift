import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How one job ended in one run (the manifest's `status`).
public enum JobStatus: String, Codable, Sendable {
    case rendered
    case upToDate = "up-to-date"
    case resumed
    case failed
    case conflict
    case interrupted

    /// Whether this outcome makes the run exit with status 1.
    public var isFailure: Bool { self == .failed || self == .conflict }
}

/// One line of `manifest.jsonl`: one job in one run. Every key is always present (null when unknown).
public struct ManifestEntry: Codable, Equatable, Sendable {
    /// ISO 8601, UTC.
    public var time: String
    /// The job list, absolute.
    public var csv: String
    public var line: Int
    public var name: String?
    /// The clip's absolute path.
    public var output: String?
    public var status: JobStatus
    public var seconds: Double
    public var jobKey: String?
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case time, csv, line, name, output, status, seconds, error
        case jobKey = "job_key"
    }

    public init(time: Date = Date(), csv: String, line: Int, name: String?, output: String?, status: JobStatus,
                seconds: Double, jobKey: String?, error: String?) {
        self.time = Self.timestamp(time)
        self.csv = csv
        self.line = line
        self.name = name
        self.output = output
        self.status = status
        self.seconds = (seconds * 1000).rounded() / 1000
        self.jobKey = jobKey
        self.error = error
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(time, forKey: .time)
        try c.encode(csv, forKey: .csv)
        try c.encode(line, forKey: .line)
        try c.encode(name, forKey: .name)         // explicit nulls: every line has every key
        try c.encode(output, forKey: .output)
        try c.encode(status, forKey: .status)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(jobKey, forKey: .jobKey)
        try c.encode(error, forKey: .error)
    }

    /// One JSON object on one line, keys in the documented order (JSONEncoder would not keep it).
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        let fields: [(CodingKeys, String)] = [
            (.time, try json(time)), (.csv, try json(csv)), (.line, try json(line)), (.name, try json(name)),
            (.output, try json(output)), (.status, try json(status)), (.seconds, try json(seconds)),
            (.jobKey, try json(jobKey)), (.error, try json(error)),
        ]
        return "{" + fields.map { "\"\($0.0.stringValue)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

public enum ManifestError: Error, CustomStringConvertible {
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unwritable(path, reason): return "\(path): cannot append to the manifest: \(reason)"
        }
    }
}

/// `manifest.jsonl` (or `manifest-shard-K-of-N.jsonl`) in the output folder, appended one whole line per
/// write (O_APPEND), so a killed run leaves complete lines and earlier runs' lines stay.
public struct Manifest {
    public let file: URL

    public init(directory: URL, shard: Shard?) {
        file = directory.appendingPathComponent(Shard.manifestFileName(shard))
    }

    public func append(_ entry: ManifestEntry) throws {
        let line = Data((try entry.jsonLine() + "\n").utf8)
        let fd = open(file.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ManifestError.unwritable(path: file.path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let written = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw ManifestError.unwritable(path: file.path, reason: written < 0 ? String(cString: strerror(errno)) : "short write")
        }
    }

    /// Every entry in the file (for tests and tools).
    public static func read(_ file: URL) throws -> [ManifestEntry] {
        let text = try String(contentsOf: file, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(ManifestEntry.self, from: Data($0.utf8)) }
    }
}
