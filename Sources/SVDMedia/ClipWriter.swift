import CFFmpeg
import Foundation
import SVDCore

/// Why a clip could not be written. Every case names the clip's final path.
public enum ClipWriteError: Error, CustomStringConvertible {
    case noFrames(path: String)
    case invalidFrameRate(path: String, fps: Int)
    case invalidSize(path: String, width: Int, height: Int)
    /// 4:2:0 and similar formats need sizes divisible by the chroma subsampling.
    case sizeNotSubsampleable(path: String, width: Int, height: Int, pixelFormat: String)
    case frameSizeMismatch(path: String, index: Int, expected: (Int, Int), got: (Int, Int))
    case alreadyExists(path: String)
    case encoderUnavailable(path: String, codec: String)
    case unknownPixelFormat(path: String, pixelFormat: String)
    case invalidColorTag(path: String, tag: String)
    /// Options FFmpeg did not consume: typos, or options of another codec/muxer.
    case unusedOptions(path: String, component: String, keys: [String])
    case ffmpeg(path: String, step: String, message: String)
    case io(path: String, step: String, message: String)

    public var description: String {
        switch self {
        case let .noFrames(path):
            return "\(path): no frames to write"
        case let .invalidFrameRate(path, fps):
            return "\(path): frame rate \(fps) is not a positive number of frames per second"
        case let .invalidSize(path, w, h):
            return "\(path): frame size \(w)×\(h) is empty"
        case let .sizeNotSubsampleable(path, w, h, fmt):
            return "\(path): \(w)×\(h) cannot be encoded as \(fmt), which needs even width and height; "
                + "use even sizes or the mkv format"
        case let .frameSizeMismatch(path, index, expected, got):
            return "\(path): frame \(index) is \(got.0)×\(got.1), but the clip is \(expected.0)×\(expected.1)"
        case let .alreadyExists(path):
            return "\(path) already exists (pass overwrite to replace it)"
        case let .encoderUnavailable(path, codec):
            return "\(path): this FFmpeg has no '\(codec)' encoder"
        case let .unknownPixelFormat(path, fmt):
            return "\(path): unknown pixel format '\(fmt)'"
        case let .invalidColorTag(path, tag):
            return "\(path): unknown colour tag '\(tag)'"
        case let .unusedOptions(path, component, keys):
            return "\(path): \(component) did not accept option(s) \(keys.joined(separator: ", "))"
        case let .ffmpeg(path, step, message):
            return "\(path): \(step) failed: \(message)"
        case let .io(path, step, message):
            return "\(path): \(step) failed: \(message)"
        }
    }
}

/// Encodes RGB frames into a clip file, atomically: the clip appears under its final name only when
/// complete, and a failed encode leaves nothing behind.
public enum ClipWriter {
    /// Writes `frames` (all the same size) at `fps` frames per second with `settings`, storing `comment`
    /// (the recipe JSON) in the container's `comment` tag. Returns the file size in bytes.
    @discardableResult
    public static func write(_ frames: [RGBImage], fps: Int, settings: EncoderSettings, comment: String?,
                             to url: URL, overwrite: Bool = false) throws -> Int {
        try MallocTuning.withFilledAllocations {
            try encode(frames, fps: fps, settings: settings, comment: comment, to: url, overwrite: overwrite)
        }
    }

    private static func encode(_ frames: [RGBImage], fps: Int, settings: EncoderSettings, comment: String?,
                               to url: URL, overwrite: Bool) throws -> Int {
        let path = url.path
        guard let first = frames.first else { throw ClipWriteError.noFrames(path: path) }
        guard fps > 0 else { throw ClipWriteError.invalidFrameRate(path: path, fps: fps) }
        guard first.width > 0, first.height > 0 else {
            throw ClipWriteError.invalidSize(path: path, width: first.width, height: first.height)
        }
        let pixelFormat = av_get_pix_fmt(settings.pixelFormat)
        guard pixelFormat != AV_PIX_FMT_NONE, let desc = av_pix_fmt_desc_get(pixelFormat) else {
            throw ClipWriteError.unknownPixelFormat(path: path, pixelFormat: settings.pixelFormat)
        }
        let wStep = 1 << Int(desc.pointee.log2_chroma_w), hStep = 1 << Int(desc.pointee.log2_chroma_h)
        guard first.width % wStep == 0, first.height % hStep == 0 else {
            throw ClipWriteError.sizeNotSubsampleable(path: path, width: first.width, height: first.height,
                                                      pixelFormat: settings.pixelFormat)
        }
        if !overwrite, FileManager.default.fileExists(atPath: path) { throw ClipWriteError.alreadyExists(path: path) }

        // The temporary file is created here, refusing a link planted at its name, and FFmpeg writes to this
        // very file through /proc/self/fd: its own open by name would follow a link swapped in meanwhile.
        let (fd, temp) = try clipError(path) { try AtomicFile.createTemporary(for: url) }
        var fdOpen = true
        do {
            let encoder = try ClipEncoder(settings: settings, pixelFormat: pixelFormat, width: first.width,
                                          height: first.height, fps: fps, comment: comment,
                                          tempPath: "/proc/self/fd/\(fd)", finalPath: path)
            for (index, frame) in frames.enumerated() { try encoder.append(frame, index: index) }
            try encoder.finish()
            fdOpen = false
            try clipError(path) {
                try AtomicFile.syncAndClose(fd, path: path)
                try AtomicFile.publish(temp, as: url, overwrite: overwrite)
            }
        } catch {
            if fdOpen { close(fd) }
            unlink(temp.path)
            throw error
        }
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    /// Runs a file step, reporting its failure as this clip's.
    static func clipError<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as FileWriteError {
            switch error {
            case let .alreadyExists(existing): throw ClipWriteError.alreadyExists(path: existing)
            case let .failed(_, step, reason): throw ClipWriteError.io(path: path, step: step, message: reason)
            case .symbolicLink: throw ClipWriteError.io(path: path, step: "creating the temporary file", message: "\(error)")
            }
        }
    }
}

/// One encode: owns the FFmpeg contexts and frees them however the encode ends.
private final class ClipEncoder {
    let finalPath: String
    let width: Int, height: Int
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    // All optional, so that deinit runs (and frees) whenever init throws.
    private var stream: UnsafeMutablePointer<AVStream>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var scaler: OpaquePointer?
    private var fileOpen = false

    init(settings: EncoderSettings, pixelFormat: AVPixelFormat, width: Int, height: Int, fps: Int, comment: String?,
         tempPath: String, finalPath: String) throws {
        self.finalPath = finalPath
        self.width = width
        self.height = height
        FFmpegLog.begin()
        let path = finalPath

        var fmt: UnsafeMutablePointer<AVFormatContext>? = nil
        var rc = avformat_alloc_output_context2(&fmt, nil, settings.format.muxer, tempPath)
        guard rc >= 0, let fmt else {
            throw ClipWriteError.ffmpeg(path: path, step: "creating the \(settings.format.muxer) muxer",
                                        message: FFmpeg.describe(rc))
        }
        format = fmt
        guard let encoder = avcodec_find_encoder_by_name(settings.codec) else {
            throw ClipWriteError.encoderUnavailable(path: path, codec: settings.codec)
        }
        guard let st = avformat_new_stream(fmt, nil) else {
            throw ClipWriteError.ffmpeg(path: path, step: "adding the video stream", message: "out of memory")
        }
        stream = st
        guard let cc = avcodec_alloc_context3(encoder) else {
            throw ClipWriteError.ffmpeg(path: path, step: "allocating the encoder", message: "out of memory")
        }
        codec = cc

        let timeBase = AVRational(num: 1, den: Int32(fps))
        cc.pointee.width = Int32(width)
        cc.pointee.height = Int32(height)
        cc.pointee.pix_fmt = pixelFormat
        cc.pointee.time_base = timeBase
        cc.pointee.framerate = AVRational(num: Int32(fps), den: 1)
        cc.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
        let color = try Self.color(settings.color, path: path)
        cc.pointee.colorspace = color.space
        cc.pointee.color_primaries = color.primaries
        cc.pointee.color_trc = color.transfer
        cc.pointee.color_range = color.range
        if fmt.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            cc.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }

        var codecOptions = FFmpeg.dictionary(settings.codecOptions)
        rc = avcodec_open2(cc, encoder, &codecOptions)
        let unusedCodec = FFmpeg.entries(codecOptions).map(\.key)
        av_dict_free(&codecOptions)
        guard rc >= 0 else {
            throw ClipWriteError.ffmpeg(path: path, step: "opening the \(settings.codec) encoder",
                                        message: FFmpeg.describe(rc))
        }
        guard unusedCodec.isEmpty else {
            throw ClipWriteError.unusedOptions(path: path, component: settings.codec, keys: unusedCodec)
        }
        rc = avcodec_parameters_from_context(st.pointee.codecpar, cc)
        guard rc >= 0 else {
            throw ClipWriteError.ffmpeg(path: path, step: "describing the stream", message: FFmpeg.describe(rc))
        }
        st.pointee.time_base = timeBase
        st.pointee.avg_frame_rate = cc.pointee.framerate
        st.pointee.r_frame_rate = cc.pointee.framerate
        if let comment { av_dict_set(&fmt.pointee.metadata, "comment", comment, 0) }

        rc = avio_open(&fmt.pointee.pb, tempPath, AVIO_FLAG_WRITE)
        guard rc >= 0 else {
            throw ClipWriteError.io(path: path, step: "creating the temporary file \(tempPath)",
                                    message: FFmpeg.describe(rc))
        }
        fileOpen = true
        var muxerOptions = FFmpeg.dictionary(settings.muxerOptions)
        rc = avformat_write_header(fmt, &muxerOptions)
        let unusedMuxer = FFmpeg.entries(muxerOptions).map(\.key)
        av_dict_free(&muxerOptions)
        guard rc >= 0 else {
            throw ClipWriteError.ffmpeg(path: path, step: "writing the \(settings.format.muxer) header",
                                        message: FFmpeg.describe(rc))
        }
        guard unusedMuxer.isEmpty else {
            throw ClipWriteError.unusedOptions(path: path, component: "the \(settings.format.muxer) muxer",
                                               keys: unusedMuxer)
        }

        guard let fr = av_frame_alloc(), let pkt = av_packet_alloc() else {
            throw ClipWriteError.ffmpeg(path: path, step: "allocating frames", message: "out of memory")
        }
        frame = fr
        packet = pkt
        fr.pointee.format = pixelFormat.rawValue
        fr.pointee.width = Int32(width)
        fr.pointee.height = Int32(height)
        fr.pointee.colorspace = color.space
        fr.pointee.color_primaries = color.primaries
        fr.pointee.color_trc = color.transfer
        fr.pointee.color_range = color.range
        rc = av_frame_get_buffer(fr, 0)
        guard rc >= 0 else {
            throw ClipWriteError.ffmpeg(path: path, step: "allocating frames", message: FFmpeg.describe(rc))
        }
        scaler = try Self.makeScaler(settings: settings, to: pixelFormat, width: width, height: height,
                                     color: color, path: path)
    }

    deinit {
        sws_freeContext(scaler)
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
        if let format {
            if fileOpen { avio_closep(&format.pointee.pb) }
            avformat_free_context(format)
        }
    }

    func append(_ image: RGBImage, index: Int) throws {
        guard image.width == width, image.height == height else {
            throw ClipWriteError.frameSizeMismatch(path: finalPath, index: index, expected: (width, height),
                                                   got: (image.width, image.height))
        }
        guard let frame else { return }
        // The encoder may still hold a reference to the previous picture.
        var rc = av_frame_make_writable(frame)
        guard rc >= 0 else {
            throw ClipWriteError.ffmpeg(path: finalPath, step: "preparing frame \(index)", message: FFmpeg.describe(rc))
        }
        image.pixels.withUnsafeBufferPointer { src in
            let srcPlanes: [UnsafePointer<UInt8>?] = [src.baseAddress, nil, nil, nil]
            let srcStrides: [Int32] = [Int32(width * 3), 0, 0, 0]
            let dstPlanes: [UnsafeMutablePointer<UInt8>?] = [frame.pointee.data.0, frame.pointee.data.1,
                                                            frame.pointee.data.2, frame.pointee.data.3]
            let dstStrides: [Int32] = [frame.pointee.linesize.0, frame.pointee.linesize.1,
                                       frame.pointee.linesize.2, frame.pointee.linesize.3]
            _ = sws_scale(scaler, srcPlanes, srcStrides, 0, Int32(height), dstPlanes, dstStrides)
        }
        frame.pointee.pts = Int64(index)
        frame.pointee.pkt_duration = 1
        rc = avcodec_send_frame(codec, frame)
        guard rc >= 0 else {
            throw ClipWriteError.ffmpeg(path: finalPath, step: "encoding frame \(index)", message: FFmpeg.describe(rc))
        }
        try drain()
    }

    /// Flushes the encoder, writes the trailer and closes the file.
    func finish() throws {
        var rc = avcodec_send_frame(codec, nil)
        guard rc >= 0 else {
            throw ClipWriteError.ffmpeg(path: finalPath, step: "flushing the encoder", message: FFmpeg.describe(rc))
        }
        try drain()
        rc = av_write_trailer(format)
        guard rc >= 0 else {
            throw ClipWriteError.ffmpeg(path: finalPath, step: "finishing the file", message: FFmpeg.describe(rc))
        }
        fileOpen = false
        rc = avio_closep(&format!.pointee.pb)
        guard rc >= 0 else {
            throw ClipWriteError.io(path: finalPath, step: "closing the file", message: FFmpeg.describe(rc))
        }
    }

    private func drain() throws {
        while true {
            let rc = avcodec_receive_packet(codec, packet)
            if rc == FFmpeg.eagain || rc == FFmpeg.eof { return }
            guard rc >= 0, let packet else {
                throw ClipWriteError.ffmpeg(path: finalPath, step: "encoding", message: FFmpeg.describe(rc))
            }
            // Every frame lasts one tick of 1/fps; delayed encoders (x264) may leave the duration unset.
            if packet.pointee.duration == 0 { packet.pointee.duration = 1 }
            packet.pointee.stream_index = stream!.pointee.index
            av_packet_rescale_ts(packet, codec!.pointee.time_base, stream!.pointee.time_base)
            let wrc = av_interleaved_write_frame(format, packet)
            guard wrc >= 0 else {
                throw ClipWriteError.io(path: finalPath, step: "writing a packet", message: FFmpeg.describe(wrc))
            }
        }
    }

    private struct Color {
        var space: AVColorSpace, primaries: AVColorPrimaries, transfer: AVColorTransferCharacteristic
        var range: AVColorRange
    }

    private static func color(_ tags: ColorTags, path: String) throws -> Color {
        func lookup(_ name: String, _ f: (UnsafePointer<CChar>) -> Int32) throws -> UInt32 {
            let v = f(name)
            guard v >= 0 else { throw ClipWriteError.invalidColorTag(path: path, tag: name) }
            return UInt32(v)
        }
        return Color(space: AVColorSpace(try lookup(tags.matrix, av_color_space_from_name)),
                     primaries: AVColorPrimaries(try lookup(tags.primaries, av_color_primaries_from_name)),
                     transfer: AVColorTransferCharacteristic(try lookup(tags.transfer, av_color_transfer_from_name)),
                     range: AVColorRange(try lookup(tags.range, av_color_range_from_name)))
    }

    /// RGB24 → encoder pixel format, with the matrix and range the stream is tagged with, so the tag is true.
    private static func makeScaler(settings: EncoderSettings, to pixelFormat: AVPixelFormat, width: Int, height: Int,
                                   color: Color, path: String) throws -> OpaquePointer {
        guard let sws = sws_alloc_context() else {
            throw ClipWriteError.ffmpeg(path: path, step: "creating the colour converter", message: "out of memory")
        }
        let obj = UnsafeMutableRawPointer(sws)
        var rc: Int32 = 0
        for (name, value) in [("srcw", width), ("srch", height), ("dstw", width), ("dsth", height),
                              ("src_format", Int(AV_PIX_FMT_RGB24.rawValue)), ("dst_format", Int(pixelFormat.rawValue))] {
            rc = min(rc, av_opt_set_int(obj, name, Int64(value), 0))
        }
        rc = min(rc, av_opt_set(obj, "sws_flags", settings.scaler, 0))
        guard rc >= 0 else {
            sws_freeContext(sws)
            throw ClipWriteError.unusedOptions(path: path, component: "swscale", keys: ["sws_flags=\(settings.scaler)"])
        }
        rc = sws_init_context(sws, nil, nil)
        guard rc >= 0 else {
            sws_freeContext(sws)
            throw ClipWriteError.ffmpeg(path: path, step: "creating the colour converter", message: FFmpeg.describe(rc))
        }
        if !FFmpeg.isRGB(pixelFormat) {
            let table = FFmpeg.swsCoefficients(for: color.space)
            let dstFull: Int32 = color.range == AVCOL_RANGE_JPEG ? 1 : 0
            // Source is full-range RGB; brightness 0, contrast and saturation 1.0 in 16.16 fixed point.
            rc = sws_setColorspaceDetails(sws, table, 1, table, dstFull, 0, 1 << 16, 1 << 16)
            guard rc >= 0 else {
                sws_freeContext(sws)
                throw ClipWriteError.ffmpeg(path: path, step: "setting the BT.709 conversion",
                                            message: "swscale refused the colour matrix")
            }
        }
        return sws
    }
}

