import Foundation
import SVDCore
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
    /// Why a file already at the output was replaced, e.g. "stale: seed 1→101" (null when nothing was).
    public var replaced: String?

    enum CodingKeys: String, CodingKey {
        case time, csv, line, name, output, status, seconds, error, replaced
        case jobKey = "job_key"
    }

    public init(time: Date = Date(), csv: String, line: Int, name: String?, output: String?, status: JobStatus,
                seconds: Double, jobKey: String?, error: String?, replaced: String? = nil) {
        self.time = Self.timestamp(time)
        self.csv = csv
        self.line = line
        self.name = name
        self.output = output
        self.status = status
        self.seconds = (seconds * 1000).rounded() / 1000
        self.jobKey = jobKey
        self.error = error
        self.replaced = replaced
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
        try c.encode(replaced, forKey: .replaced)
    }

    /// One JSON object on one line, keys in the documented order (JSONEncoder would not keep it).
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        let fields: [(CodingKeys, String)] = [
            (.time, try json(time)), (.csv, try json(csv)), (.line, try json(line)), (.name, try json(name)),
            (.output, try json(output)), (.status, try json(status)), (.seconds, try json(seconds)),
            (.jobKey, try json(jobKey)), (.error, try json(error)), (.replaced, try json(replaced)),
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

/// `manifest.jsonl` (or `manifest-shard-K-of-N.jsonl`) in the output folder: only ever whole lines. Each line
/// is appended whole (O_APPEND) and flushed to disk; a write that fails part-way (a full disk) is cut back
/// off, and a partial last line left by an older svdbatch or a crash is removed before the next append. The file
/// is opened without following a symbolic link at its name.
public struct Manifest {
    public let file: URL

    public init(directory: URL, shard: Shard?) {
        file = directory.appendingPathComponent(Shard.manifestFileName(shard))
    }

    /// Opens the manifest once before any work (creating it, cutting a partial last line), so that a manifest
    /// that cannot be written (a link planted at its name, a read-only file) stops the run before it renders.
    public func prepare() throws {
        let fd = try open()
        defer { close(fd) }
        _ = try wholeLinesLength(fd)
    }

    public func append(_ entry: ManifestEntry) throws {
        let line = Data((try entry.jsonLine() + "\n").utf8)
        let fd = try open()
        defer { close(fd) }
        let whole = try wholeLinesLength(fd)
        do { try AtomicFile.writeAll(line, to: fd, path: file.path) } catch {
            // A full disk lets part of a line in and then fails: cut it back off.
            ftruncate(fd, off_t(whole))
            throw ManifestError.unwritable(path: file.path, reason: Self.reason(error))
        }
        guard fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno)).lowercased()
            ftruncate(fd, off_t(whole))
            throw ManifestError.unwritable(path: file.path, reason: reason)
        }
    }

    /// Opens (creating) the manifest for appending and reading back, never through a link at its name.
    private func open() throws -> Int32 {
        do { return try AtomicFile.openNoFollow(file, flags: O_RDWR | O_APPEND | O_CREAT, step: "opening") } catch {
            throw ManifestError.unwritable(path: file.path, reason: Self.reason(error))
        }
    }

    /// The file's length up to its last newline, cutting off a partial last line (never a valid entry).
    private func wholeLinesLength(_ fd: Int32) throws -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ManifestError.unwritable(path: file.path, reason: String(cString: strerror(errno)).lowercased())
        }
        let size = Int(info.st_size)
        guard size > 0 else { return 0 }
        var end = size
        var chunk = [UInt8](repeating: 0, count: 4096)
        // Look back for the last newline, a chunk at a time.
        while end > 0 {
            let start = max(0, end - chunk.count)
            let n = pread(fd, &chunk, end - start, off_t(start))
            guard n == end - start else {
                throw ManifestError.unwritable(path: file.path, reason: "cannot read it back: \(String(cString: strerror(errno)))")
            }
            if let last = chunk[0..<n].lastIndex(of: UInt8(ascii: "\n")) {
                end = start + last + 1
                break
            }
            end = start
        }
        if end < size { ftruncate(fd, off_t(end)) }
        return end
    }

    private static func reason(_ error: Error) -> String {
        if case let FileWriteError.failed(_, _, reason) = error { return reason }
        return "\(error)"
    }

    /// Every entry in the file (for tests and tools).
    public static func read(_ file: URL) throws -> [ManifestEntry] {
        let text = try String(contentsOf: file, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(ManifestEntry.self, from: Data($0.utf8)) }
    }
}
