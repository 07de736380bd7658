import Crypto
import Foundation
import SVDCore

public enum DigestError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read the file to hash it: \(reason)"
        }
    }
}

/// SHA-256 as lower-case hex, the form recipes store.
public enum Digests {
    public static func sha256Hex<D: DataProtocol>(_ bytes: D) -> String { hex(SHA256.hash(data: bytes)) }

    /// The RGB24 bytes of `frames`, in order, as one stream (what `frames_sha256` records).
    public static func sha256Hex(frames: [RGBImage]) -> String {
        var hasher = SHA256()
        for frame in frames { hasher.update(data: frame.pixels) }
        return hex(hasher.finalize())
    }

    /// A file's contents, read in 1 MiB pieces so that multi-gigabyte weights are not loaded whole.
    public static func sha256Hex(fileAt url: URL) throws -> String {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw DigestError.unreadable(path: url.path, reason: String(describing: error))
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data?
            do { chunk = try handle.read(upToCount: 1 << 20) } catch {
                throw DigestError.unreadable(path: url.path, reason: String(describing: error))
            }
            guard let chunk, !chunk.isEmpty else { break }
            hasher.update(data: chunk)
        }
        return hex(hasher.finalize())
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { byte in
            let s = String(byte, radix: 16)
            return byte < 16 ? "0" + s : s
        }.joined()
    }
}
