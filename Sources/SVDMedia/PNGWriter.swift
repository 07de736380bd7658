import CPNGShim
import Foundation
import SVDCore

public enum PNGWriterError: Error, Equatable, CustomStringConvertible {
    case encodingFailed(detail: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .encodingFailed(let detail): return "PNG encoding failed: \(detail)"
        case .writeFailed(let path, let reason): return "\(path): cannot write the PNG (\(reason))"
        }
    }
}

/// 8-bit RGB PNG output through libpng (CPNGShim): no gamma or text chunks, so the same pixels always give
/// the same bytes. Writing is plain; making it atomic (temp file + rename) is the caller's job.
public enum PNGWriter {
    /// zlib level 6: libpng's default, a good size/speed balance for frames and contact sheets.
    public static let defaultCompressionLevel = 6

    /// The PNG file's bytes.
    public static func encode(_ image: RGBImage, compressionLevel: Int = defaultCompressionLevel) throws -> [UInt8] {
        guard image.width > 0, image.height > 0, image.width <= Int(UInt32.max), image.height <= Int(UInt32.max) else {
            throw PNGWriterError.encodingFailed(detail: "invalid size \(image.width)×\(image.height)")
        }
        guard (0...9).contains(compressionLevel) else {
            throw PNGWriterError.encodingFailed(detail: "compression level \(compressionLevel) is not in 0…9")
        }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer { rgb in
            message.withUnsafeMutableBufferPointer { msg in
                pngshim_encode_rgb8(rgb.baseAddress, UInt32(image.width), UInt32(image.height), Int32(compressionLevel),
                                    &output, &size, msg.baseAddress, msg.count)
            }
        }
        defer { pngshim_free(output) }
        guard status == PNGSHIM_OK, let output else {
            throw PNGWriterError.encodingFailed(detail: message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }

    /// Encodes and writes (creating or replacing) the file at `path`.
    public static func write(_ image: RGBImage, to path: String, compressionLevel: Int = defaultCompressionLevel) throws {
        let bytes = try encode(image, compressionLevel: compressionLevel)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw PNGWriterError.writeFailed(path: path, reason: reason)
        }
    }
}
