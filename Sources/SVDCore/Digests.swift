import Crypto
import Foundation

public enum DigestError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)

    public var path: String { if case let .unreadable(path, _) = self { return path }; return "" }
    public var reason: String { if case let .unreadable(_, reason) = self { return reason }; return "" }
    public var description: String { "\(path): cannot read the file to hash it: \(reason)" }
}

/// SHA-256 as lower-case hex, the form recipes, checkpoints and model fingerprints store. The one hasher of
/// bytes, frames and files in the engine.
public enum Digests {
    public static func sha256Hex<D: DataProtocol>(_ bytes: D) -> String { hex(SHA256.hash(data: bytes)) }

    /// The RGB24 bytes of `frames`, in order, as one stream (what `frames_sha256` records).
    public static func sha256Hex(frames: [RGBImage]) -> String {
        var hasher = SHA256()
        for frame in frames { hasher.update(data: frame.pixels) }
        return hex(hasher.finalize())
    }

    /// A regular file's contents, read in 8 MiB pieces so that multi-gigabyte weights are not loaded whole.
    /// The open never waits (a FIFO is refused, not read), and anything but a regular file is refused.
    public static func sha256Hex(fileAt url: URL) throws -> String {
        let fd: Int32
        do { fd = try RegularFile.open(url).fd } catch let error as RegularFileError {
            throw DigestError.unreadable(path: url.path, reason: error.reason)
        }
        defer { close(fd) }
        let chunk = 8 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        while true {
            let n = read(fd, buffer.baseAddress, chunk)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw DigestError.unreadable(path: url.path, reason: "read failed: \(String(cString: strerror(errno)))")
            }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hex(hasher.finalize())
    }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { byte in
            let s = String(byte, radix: 16)
            return byte < 16 ? "0" + s : s
        }.joined()
    }

    /// A finished digest as lower-case hex.
    public static func hex(_ digest: SHA256.Digest) -> String { hex(Array(digest)) }
}
