import CFFmpeg
import CPNGShim
import Foundation
import SVDCore

/// Why an input image could not be used. Every case names the file.
public enum ImageInputError: Error, Equatable, CustomStringConvertible {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case empty(path: String)
    case truncated(path: String, detail: String)
    case corrupt(path: String, detail: String)
    case unsupportedFormat(path: String, detail: String)
    case tooSmall(path: String, width: Int, height: Int)
    case tooLarge(path: String, detail: String)

    public var path: String {
        switch self {
        case .missing(let p), .unreadable(let p, _), .empty(let p), .truncated(let p, _), .corrupt(let p, _),
             .unsupportedFormat(let p, _), .tooSmall(let p, _, _), .tooLarge(let p, _):
            return p
        }
    }

    public var description: String {
        switch self {
        case .missing(let p):
            return "\(p): no such file; check the input path"
        case .unreadable(let p, let reason):
            return "\(p): cannot be read (\(reason))"
        case .empty(let p):
            return "\(p): the file is empty (0 bytes)"
        case .truncated(let p, let detail):
            return "\(p): the image file is truncated (\(detail)); re-export or re-download it"
        case .corrupt(let p, let detail):
            return "\(p): the image data is corrupt (\(detail))"
        case .unsupportedFormat(let p, let detail):
            return "\(p): not a supported image (\(detail)); use PNG, JPEG or WebP"
        case .tooSmall(let p, let w, let h):
            return "\(p): the image is \(w)×\(h); at least \(ImageInput.minimumSide)×\(ImageInput.minimumSide) is needed"
        case .tooLarge(let p, let detail):
            return "\(p): the image is too large (\(detail))"
        }
    }
}

/// Still-image input: PNG through libpng (pixel-identical to Pillow's `Image.open(p).convert("RGB")`, which
/// is what diffusers receives), everything else FFmpeg decodes as a still image (JPEG, WebP, BMP, GIF,
/// TIFF, …) through libavformat + libavcodec + swscale. The decoder is chosen by the file's signature,
/// never by its extension. An EXIF orientation (JPEG, PNG, WebP) is applied first, as diffusers' `load_image`
/// applies it (Pillow's `ImageOps.exif_transpose`): every later step, and the recipe's pixel hash, sees the photo
/// the right way up.
public enum ImageInput {
    public static let minimumSide = 2
    /// Pillow's decompression-bomb limit (2 × `Image.MAX_IMAGE_PIXELS`).
    public static let maximumPixels = 178_956_970
    public static let maximumFileBytes = 1 << 30

    /// The file's image as 8-bit RGB. Throws `ImageInputError`.
    public static func load(path: String) throws -> RGBImage {
        try decode(readFile(path), path: path)
    }

    /// The image and the SHA-256 of the very bytes it was decoded from (one read: a file replaced meanwhile
    /// cannot make the two disagree).
    public static func loadHashed(path: String) throws -> (image: RGBImage, fileSHA256: String) {
        let bytes = try readFile(path)
        return (try decode(bytes, path: path), Digests.sha256Hex(bytes))
    }

    /// Decodes an image file already in memory; `path` only names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> RGBImage {
        guard !bytes.isEmpty else { throw ImageInputError.empty(path: path) }
        var image: RGBImage
        switch ImageSignature(bytes) {
        case .png: image = try PNGDecoder.decode(bytes, path: path)
        case .other(let format): image = try StillImageDecoder.decode(bytes, format: format, path: path)
        }
        image = ExifOrientation.read(bytes).apply(to: image)
        guard image.width >= minimumSide && image.height >= minimumSide else {
            throw ImageInputError.tooSmall(path: path, width: image.width, height: image.height)
        }
        return image
    }

    /// The file's bytes (regular files only, never waiting on a FIFO, at most `maximumFileBytes`).
    static func readFile(_ path: String) throws -> [UInt8] {
        do { return [UInt8](try RegularFile.read(URL(fileURLWithPath: path), limit: maximumFileBytes)) } catch let error as RegularFileError {
            switch error {
            case .missing: throw ImageInputError.missing(path: path)
            case let .tooLarge(_, bytes, limit): throw ImageInputError.tooLarge(path: path, detail: "\(bytes) bytes; the limit is \(limit)")
            case .notRegular(_, let kind) where kind == "a directory": throw ImageInputError.unreadable(path: path, reason: "it is a directory")
            default: throw ImageInputError.unreadable(path: path, reason: error.reason)
            }
        }
    }
}

/// The container format told by the first bytes of a file.
enum ImageSignature: Equatable {
    case png
    case other(StillFormat)

    enum StillFormat: Equatable {
        case jpeg, webp, gif, tiff
        /// No signature known here: FFmpeg's content probe decides.
        case unknown

        /// FFmpeg's demuxer for the format (content-based, unlike "image2", which goes by extension).
        var demuxer: String? {
            switch self {
            case .jpeg: return "jpeg_pipe"
            case .webp: return "webp_pipe"
            case .gif: return "gif"
            case .tiff: return "tiff_pipe"
            case .unknown: return nil
            }
        }
    }

    init(_ b: [UInt8]) {
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + prefix.count && Array(b[offset..<offset + prefix.count]) == prefix
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if starts([0xFF, 0xD8, 0xFF]) {
            self = .other(.jpeg)
        } else if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) {
            self = .other(.webp)
        } else if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) {
            self = .other(.gif)
        } else if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) {
            self = .other(.tiff)
        } else {
            self = .other(.unknown)
        }
    }
}

// MARK: - PNG (libpng, through CPNGShim)

enum PNGDecoder {
    static func decode(_ bytes: [UInt8], path: String) throws -> RGBImage {
        var width: UInt32 = 0, height: UInt32 = 0
        var rgb: UnsafeMutablePointer<UInt8>? = nil
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { data in
            message.withUnsafeMutableBufferPointer { msg in
                pngshim_decode_rgb8(data.baseAddress, data.count, UInt64(ImageInput.maximumPixels),
                                    &width, &height, &rgb, msg.baseAddress, msg.count)
            }
        }
        defer { pngshim_free(rgb) }
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        switch Int(status) {
        case Int(PNGSHIM_OK):
            let count = Int(width) * Int(height) * 3
            return RGBImage(width: Int(width), height: Int(height),
                            pixels: Array(UnsafeBufferPointer(start: rgb, count: count)))
        case Int(PNGSHIM_TRUNCATED): throw ImageInputError.truncated(path: path, detail: "PNG: \(text)")
        case Int(PNGSHIM_TOO_LARGE): throw ImageInputError.tooLarge(path: path, detail: text)
        case Int(PNGSHIM_NO_MEMORY): throw ImageInputError.tooLarge(path: path, detail: "out of memory decoding the PNG")
        default: throw ImageInputError.corrupt(path: path, detail: "PNG: \(text)")
        }
    }
}

// MARK: - Other still formats (FFmpeg)

enum StillImageDecoder {
    static func decode(_ bytes: [UInt8], format: ImageSignature.StillFormat, path: String) throws -> RGBImage {
        if let problem = truncation(of: bytes, format: format) {
            throw ImageInputError.truncated(path: path, detail: problem)
        }
        FFmpegLog.begin()
        let demuxer = try inputFormat(for: bytes, format: format, path: path)
        let source = MemorySource(bytes)
        return try source.withFormatContext(demuxer, path: path) { fmt in
            try firstPicture(fmt, path: path)
        }
    }

    /// Cheap structural checks that tell a cut-off file from a damaged one; FFmpeg's decoders conceal
    /// missing data instead of failing.
    static func truncation(of b: [UInt8], format: ImageSignature.StillFormat) -> String? {
        switch format {
        case .jpeg:
            // An EOI (FF D9) must follow a start-of-scan (FF DA); neither appears inside entropy-coded data,
            // where FF is always stuffed. The image ends at that EOI: data appended after it (the video of a
            // "motion photo") is not looked at.
            var sawScan = false
            var i = 2
            while i + 1 < b.count {
                if b[i] == 0xFF {
                    if b[i + 1] == 0xDA { sawScan = true }
                    else if b[i + 1] == 0xD9 && sawScan { return nil }
                }
                i += 1
            }
            return sawScan ? "JPEG: no end-of-image marker after the image data" : "JPEG: the file ends before the image data"
        case .webp:
            guard b.count >= 12 else { return "WebP: the file ends inside its header" }
            let riff = Int(b[4]) | Int(b[5]) << 8 | Int(b[6]) << 16 | Int(b[7]) << 24
            return 8 + riff > b.count ? "WebP: the header announces \(8 + riff) bytes, the file has \(b.count)" : nil
        default:
            return nil
        }
    }

    /// The demuxer: fixed by the signature when known, else FFmpeg's content probe, accepted only when it
    /// finds a still-image format (so a video file is refused rather than silently reduced to a frame).
    private static func inputFormat(for bytes: [UInt8], format: ImageSignature.StillFormat,
                                    path: String) throws -> UnsafePointer<AVInputFormat> {
        if let name = format.demuxer, let fmt = av_find_input_format(name) { return fmt }
        var padded = Array(bytes.prefix(1 << 20))
        let size = Int32(padded.count)
        padded += [UInt8](repeating: 0, count: Int(AVPROBE_PADDING_SIZE))
        var score: Int32 = 0
        let found: UnsafePointer<AVInputFormat>? = padded.withUnsafeMutableBufferPointer { buf in
            "".withCString { name in
                var probe = AVProbeData(filename: name, buf: buf.baseAddress, buf_size: size, mime_type: nil)
                return av_probe_input_format3(&probe, 1, &score)
            }
        }
        let magic = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        guard let fmt = found, score >= 25 else {   // AVPROBE_SCORE_MAX / 4: anything weaker is a guess
            throw ImageInputError.unsupportedFormat(path: path, detail: "unrecognised file signature \(magic)")
        }
        let name = String(cString: fmt.pointee.name)
        guard name.hasSuffix("_pipe") || name == "gif" else {
            let long = fmt.pointee.long_name.map { String(cString: $0) } ?? name
            throw ImageInputError.unsupportedFormat(path: path, detail: "\(long) is not a still-image format")
        }
        return fmt
    }

    /// Decodes the first picture of the best video stream and converts it to RGB24.
    private static func firstPicture(_ fmt: UnsafeMutablePointer<AVFormatContext>, path: String) throws -> RGBImage {
        var decoder: UnsafePointer<AVCodec>? = nil
        let stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        guard stream >= 0, let decoder, let par = fmt.pointee.streams[Int(stream)]?.pointee.codecpar else {
            throw ImageInputError.unsupportedFormat(path: path, detail: "no decodable picture (\(FFmpeg.describe(stream)))")
        }
        var cc = avcodec_alloc_context3(decoder)
        defer { avcodec_free_context(&cc) }
        guard let ctx = cc else { throw ImageInputError.tooLarge(path: path, detail: "out of memory") }
        var rc = avcodec_parameters_to_context(ctx, par)
        ctx.pointee.thread_count = 1
        ctx.pointee.max_pixels = Int64(ImageInput.maximumPixels)
        if rc >= 0 { rc = avcodec_open2(ctx, decoder, nil) }
        guard rc >= 0 else {
            throw ImageInputError.unsupportedFormat(path: path, detail: "cannot open the \(String(cString: decoder.pointee.name)) decoder: \(FFmpeg.describe(rc))")
        }

        var packet = av_packet_alloc()
        var frame = av_frame_alloc()
        defer { av_packet_free(&packet); av_frame_free(&frame) }
        guard let packet, let frame else { throw ImageInputError.tooLarge(path: path, detail: "out of memory") }
        var lastError: Int32 = 0
        var draining = false
        while true {
            rc = avcodec_receive_frame(ctx, frame)
            if rc >= 0 { break }
            if rc == FFmpeg.eof { throw decodeFailure(lastError, path: path) }
            guard rc == FFmpeg.eagain else { throw decodeFailure(rc, path: path) }
            if draining { throw decodeFailure(lastError, path: path) }
            let read = av_read_frame(fmt, packet)
            if read < 0 {
                if read != FFmpeg.eof { lastError = read }
                draining = true
                _ = avcodec_send_packet(ctx, nil)
                continue
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == stream else { continue }
            let sent = avcodec_send_packet(ctx, packet)
            if sent < 0 && sent != FFmpeg.eagain { lastError = sent }
        }
        return try toRGB(frame, path: path)
    }

    private static func decodeFailure(_ code: Int32, path: String) -> ImageInputError {
        .corrupt(path: path, detail: code == 0 ? "no picture could be decoded" : FFmpeg.describe(code))
    }

    private static func toRGB(_ frame: UnsafeMutablePointer<AVFrame>, path: String) throws -> RGBImage {
        let (w, h) = (Int(frame.pointee.width), Int(frame.pointee.height))
        guard w > 0, h > 0 else { throw ImageInputError.corrupt(path: path, detail: "the picture has no size") }
        guard w * h <= ImageInput.maximumPixels else {
            throw ImageInputError.tooLarge(path: path, detail: "\(w)×\(h) pixels exceeds \(ImageInput.maximumPixels)")
        }
        // The deprecated "J" formats mean full-range YUV: name the plain format and pass the range instead,
        // which is what swscale wants (and it stops warning).
        var source = AVPixelFormat(rawValue: frame.pointee.format)
        var fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG
        switch source {
        case AV_PIX_FMT_YUVJ420P: source = AV_PIX_FMT_YUV420P; fullRange = true
        case AV_PIX_FMT_YUVJ422P: source = AV_PIX_FMT_YUV422P; fullRange = true
        case AV_PIX_FMT_YUVJ444P: source = AV_PIX_FMT_YUV444P; fullRange = true
        case AV_PIX_FMT_YUVJ440P: source = AV_PIX_FMT_YUV440P; fullRange = true
        case AV_PIX_FMT_YUVJ411P: source = AV_PIX_FMT_YUV411P; fullRange = true
        default: break
        }
        frame.pointee.format = source.rawValue

        let flags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP
        guard let sws = sws_getContext(Int32(w), Int32(h), source, Int32(w), Int32(h), AV_PIX_FMT_RGB24,
                                       flags, nil, nil, nil) else {
            throw ImageInputError.unsupportedFormat(
                path: path, detail: "pixel format \(FFmpeg.pixelFormatName(source)) cannot be converted to RGB")
        }
        defer { sws_freeContext(sws) }
        let coefficients = FFmpeg.swsCoefficients(for: frame.pointee.colorspace)
        _ = sws_setColorspaceDetails(sws, coefficients, fullRange ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                     0, 1 << 16, 1 << 16)
        var rgb = av_frame_alloc()
        defer { av_frame_free(&rgb) }
        guard let rgb else { throw ImageInputError.tooLarge(path: path, detail: "out of memory") }
        rgb.pointee.format = AV_PIX_FMT_RGB24.rawValue
        rgb.pointee.width = Int32(w)
        rgb.pointee.height = Int32(h)
        let rc = sws_scale_frame(sws, rgb, frame)
        guard rc >= 0, let base = rgb.pointee.data.0 else {
            throw ImageInputError.corrupt(path: path, detail: "RGB conversion failed: \(FFmpeg.describe(rc))")
        }
        let stride = Int(rgb.pointee.linesize.0)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<h { (out.baseAddress! + y * w * 3).update(from: base + y * stride, count: w * 3) }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }
}

/// An AVIOContext over bytes in memory, so that FFmpeg never opens the path itself (no protocol prefixes
/// such as "pipe:" are interpreted, and the bytes decoded are the bytes sniffed).
private final class MemorySource {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func withFormatContext<T>(_ demuxer: UnsafePointer<AVInputFormat>, path: String,
                              _ body: (UnsafeMutablePointer<AVFormatContext>) throws -> T) throws -> T {
        let bufferSize: Int32 = 1 << 16
        guard let buffer = av_malloc(Int(bufferSize)) else { throw ImageInputError.tooLarge(path: path, detail: "out of memory") }
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        var avio = avio_alloc_context(buffer.assumingMemoryBound(to: UInt8.self), bufferSize, 0, opaque,
                                      MemorySource.read, nil, MemorySource.seek)
        guard avio != nil else {
            av_free(buffer)
            throw ImageInputError.tooLarge(path: path, detail: "out of memory")
        }
        defer {
            av_freep(&avio!.pointee.buffer)   // FFmpeg may have replaced the buffer
            avio_context_free(&avio)
        }
        var fmt = avformat_alloc_context()
        guard fmt != nil else { throw ImageInputError.tooLarge(path: path, detail: "out of memory") }
        fmt!.pointee.pb = avio
        fmt!.pointee.flags |= AVFMT_FLAG_CUSTOM_IO
        let rc = avformat_open_input(&fmt, nil, demuxer, nil)   // frees fmt on failure
        guard rc >= 0, let ctx = fmt else {
            throw ImageInputError.corrupt(path: path, detail: FFmpeg.describe(rc))
        }
        defer { avformat_close_input(&fmt) }
        return try withExtendedLifetime(self) { try body(ctx) }
    }

    private static let read: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt8>?, Int32) -> Int32 = {
        opaque, buf, size in
        let source = Unmanaged<MemorySource>.fromOpaque(opaque!).takeUnretainedValue()
        let n = min(Int(size), source.bytes.count - source.position)
        guard n > 0, let buf else { return FFmpeg.eof }
        source.bytes.withUnsafeBufferPointer { buf.update(from: $0.baseAddress! + source.position, count: n) }
        source.position += n
        return Int32(n)
    }

    private static let seek: @convention(c) (UnsafeMutableRawPointer?, Int64, Int32) -> Int64 = { opaque, offset, whence in
        let source = Unmanaged<MemorySource>.fromOpaque(opaque!).takeUnretainedValue()
        let count = Int64(source.bytes.count)
        if whence & AVSEEK_SIZE != 0 { return count }
        let target: Int64
        switch whence & ~AVSEEK_FORCE {
        case SEEK_SET: target = offset
        case SEEK_CUR: target = Int64(source.position) + offset
        case SEEK_END: target = count + offset
        default: return Int64(cff_averror(EINVAL))
        }
        guard target >= 0 && target <= count else { return Int64(cff_averror(EINVAL)) }
        source.position = Int(target)
        return target
    }
}
