import Foundation
import SVDCore
import SVDMedia
import SVDPipeline

/// A job's denoising state on disk (`.NAME.state` next to the clip), replaced atomically after every step:
///
///     svdbatch-checkpoint 1\n
///     {"blas_core":…,"job_key":…,"latents_sha256":…,"steps_done":…,"total_steps":…,"values":…}\n
///     <values × float32, little-endian>
///
/// The job key ties the state to exactly one job: a state left by a different job (other seed, size, model, …)
/// under the same name is never resumed, only replaced. The OpenBLAS kernel family is recorded too: different
/// kernels round differently, so a state made with another one (a job moved to another kind of CPU) is not
/// continued either, or the frames would match neither machine's uninterrupted render. The latents' digest
/// catches a damaged file.
public struct CheckpointFile: Equatable, Sendable {
    static let magic = "svdbatch-checkpoint 1\n"

    public let jobKey: String
    public let totalSteps: Int
    /// `BLAS.coreName` of the process that computed the latents.
    public let blasCore: String
    public let checkpoint: DenoisingCheckpoint

    public init(jobKey: String, totalSteps: Int, blasCore: String = BLAS.coreName, checkpoint: DenoisingCheckpoint) {
        self.jobKey = jobKey
        self.totalSteps = totalSteps
        self.blasCore = blasCore
        self.checkpoint = checkpoint
    }

    /// Why this state cannot continue the job with `jobKey` here, or nil if it can.
    public func mismatch(jobKey: String, totalSteps: Int, blasCore: String = BLAS.coreName) -> String? {
        if self.jobKey != jobKey || self.totalSteps != totalSteps { return "it belongs to a different job" }
        if self.blasCore != blasCore {
            return "it was computed with OpenBLAS's \(self.blasCore) kernels and this machine uses \(blasCore), so continuing would not give the frames of an uninterrupted render"
        }
        return nil
    }

    struct Header: Codable {
        var blasCore: String
        var jobKey: String
        var stepsDone: Int
        var totalSteps: Int
        var values: Int
        var latentsSHA256: String

        enum CodingKeys: String, CodingKey {
            case values
            case blasCore = "blas_core"
            case jobKey = "job_key"
            case stepsDone = "steps_done"
            case totalSteps = "total_steps"
            case latentsSHA256 = "latents_sha256"
        }
    }

    public func encoded() throws -> Data {
        let payload = Self.bytes(of: checkpoint.latents)
        let header = Header(blasCore: blasCore, jobKey: jobKey, stepsDone: checkpoint.stepsDone, totalSteps: totalSteps,
                            values: checkpoint.latents.count, latentsSHA256: Digests.sha256Hex(payload))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data(Self.magic.utf8)
        data.append(try encoder.encode(header))
        data.append(UInt8(ascii: "\n"))
        data.append(payload)
        return data
    }

    /// Parses a state file; throws `CheckpointError.damaged` for anything that is not a complete, intact state.
    public static func decode(_ data: Data, path: String) throws -> CheckpointFile {
        func damaged(_ why: String) -> CheckpointError { .damaged(path: path, reason: why) }
        let bytes = [UInt8](data)
        let magic = Array(Self.magic.utf8)
        guard bytes.starts(with: magic) else { throw damaged("not an svdbatch checkpoint") }
        guard let end = bytes[magic.count...].firstIndex(of: UInt8(ascii: "\n")) else { throw damaged("no header") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[magic.count..<end])) } catch {
            throw damaged("unreadable header")
        }
        let payload = Data(bytes[(end + 1)...])
        guard header.values >= 0, header.values <= payload.count / 4, payload.count == header.values * 4 else {
            throw damaged("holds \(payload.count) bytes of latents, the header announces \(header.values) values")
        }
        guard Digests.sha256Hex(payload) == header.latentsSHA256 else { throw damaged("the latents do not match their digest") }
        guard header.stepsDone >= 1, header.stepsDone <= header.totalSteps else {
            throw damaged("step \(header.stepsDone) of \(header.totalSteps) is not a finished step")
        }
        return CheckpointFile(jobKey: header.jobKey, totalSteps: header.totalSteps, blasCore: header.blasCore,
                              checkpoint: DenoisingCheckpoint(stepsDone: header.stepsDone, latents: floats(payload)))
    }

    /// Reads the state at `url`; nil when there is none.
    public static func read(_ url: URL) throws -> CheckpointFile? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data: Data
        do { data = try RegularFile.read(url, limit: 1 << 34) } catch let error as RegularFileError {
            throw CheckpointError.damaged(path: url.path, reason: "cannot be read (\(error.reason))")
        }
        return try decode(data, path: url.path)
    }

    /// Writes the state atomically: a reader (or the next run after a crash) sees the previous state or this one.
    public func write(to url: URL) throws {
        try AtomicFile.write(try encoded(), to: url)
    }

    static func bytes(of values: [Float]) -> Data {
        var data = Data(count: values.count * 4)
        data.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        return data
    }

    static func floats(_ data: Data) -> [Float] {
        data.withUnsafeBytes { raw in
            (0..<data.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case damaged(path: String, reason: String)

    public var description: String {
        switch self {
        case let .damaged(path, reason): return "\(path): unusable checkpoint (\(reason)); the job starts over and replaces it"
        }
    }
}
