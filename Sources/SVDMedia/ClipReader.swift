import CFFmpeg
import Foundation
import SVDCore

/// Why a clip could not be read. Every case names the file.
public enum ClipReadError: Error, CustomStringConvertible {
    /// Missing, a directory, or not permitted.
    case unreadable(path: String, reason: String)
    /// Not a media file FFmpeg recognises, or one without a video stream.
    case notAVideo(path: String, reason: String)
    /// The file ends before the video does.
    case truncated(path: String, detail: String)
    /// Demuxing or decoding failed part-way.
    case damaged(path: String, detail: String)

    public var path: String {
        switch self {
        case let .unreadable(p, _), let .notAVideo(p, _), let .truncated(p, _), let .damaged(p, _): return p
        }
    }

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read the file: \(reason)"
        case let .notAVideo(path, reason): return "\(path) is not a readable video: \(reason)"
        case let .truncated(path, detail): return "\(path) is truncated: \(detail)"
        case let .damaged(path, detail): return "\(path) is damaged: \(detail)"
        }
    }
}

/// A frame rate as the container states it (e.g. 7/1).
public struct FrameRate: Hashable, Sendable, Codable, CustomStringConvertible {
    public var numerator: Int
    public var denominator: Int
    public init(_ numerator: Int, _ denominator: Int) {
        self.numerator = numerator
        self.denominator = denominator
    }
    public var value: Double { Double(numerator) / Double(denominator) }
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
}

/// What a clip's video stream is.
public struct ClipStreamInfo: Hashable, Sendable {
    /// Demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm".
    public var container: String
    /// Codec name, e.g. "h264", "vp9", "ffv1".
    public var codec: String
    public var pixelFormat: String
    public var width: Int
    public var height: Int
    /// Frames present in the file (packets when probing, decoded pictures when decoding).
    public var frameCount: Int
    public var frameRate: FrameRate
    /// The codec is lossless by nature (FFV1), not just possibly (H.264 at QP 0 reports false).
    public var isLossless: Bool
    public var color: ColorTags
    public var fileSize: Int
}

/// A clip's container tags and stream description, without the pictures.
public struct ClipProbe: Sendable {
    public let path: String
    public let stream: ClipStreamInfo
    /// Container-level tags, keys lower-cased (Matroska stores them upper-cased).
    public let metadata: [String: String]
    /// The `comment` tag, where svdbatch keeps the recipe.
    public var comment: String? { metadata["comment"] }
}

public struct DecodedClip: Sendable {
    public let probe: ClipProbe
    /// RGB24 frames in presentation order.
    public let frames: [RGBImage]
}

/// Reads clips: container tags, stream facts, and frames decoded to RGB24 with the stream's colour matrix.
/// Damaged input gives a `ClipReadError`, never a crash.
public enum ClipReader {
    /// Tags and stream facts. Every packet is demuxed (not decoded) to count frames and catch truncation.
    public static func probe(_ url: URL) throws -> ClipProbe {
        try ClipDemuxer(path: url.path).run(decoding: false).probe
    }

    /// Tags, stream facts, and all frames as RGB24.
    public static func decode(_ url: URL) throws -> DecodedClip {
        try ClipDemuxer(path: url.path).run(decoding: true)
    }
}

/// One pass over a clip; owns the FFmpeg contexts.
private final class ClipDemuxer {
    let path: String
    private var input: UnsafeMutablePointer<AVFormatContext>?
    private var decoder: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var videoStream: UnsafeMutablePointer<AVStream>?
    private var scaler: OpaquePointer?
    private var scalerKey: (format: Int32, width: Int32, height: Int32)?
    private var frames: [RGBImage] = []
    private var fileSize: Int64 = 0

    init(path: String) { self.path = path }

    deinit {
        sws_freeContext(scaler)
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&decoder)
        avformat_close_input(&input)
    }

    func run(decoding: Bool) throws -> DecodedClip {
        FFmpegLog.begin()
        try checkFile()
        var rc = avformat_open_input(&input, path, nil, nil)
        guard rc >= 0, let input else { throw ClipReadError.notAVideo(path: path, reason: FFmpeg.describe(rc)) }
        let demuxer = String(cString: input.pointee.iformat.pointee.name)
        if let declared = ContainerExtent.declaredSize(path: path, demuxer: demuxer), declared > fileSize {
            throw ClipReadError.truncated(path: path, detail: declared == Int64.max
                ? "the file has \(fileSize) bytes and its structure declares more than any file can hold"
                : "the file has \(fileSize) of its \(declared) bytes")
        }
        rc = avformat_find_stream_info(input, nil)
        guard rc >= 0 else { throw ClipReadError.notAVideo(path: path, reason: FFmpeg.describe(rc)) }
        let index = av_find_best_stream(input, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard index >= 0, let stream = input.pointee.streams[Int(index)],
              stream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else {
            throw ClipReadError.notAVideo(path: path, reason: "it has no video stream")
        }
        videoStream = stream
        let par = stream.pointee.codecpar!.pointee
        guard par.width > 0, par.height > 0 else {
            throw ClipReadError.notAVideo(path: path, reason: "the video stream has no picture size")
        }
        if decoding { try openDecoder(stream) }
        guard let pkt = av_packet_alloc() else {
            throw ClipReadError.damaged(path: path, detail: "out of memory")
        }
        packet = pkt

        var packets = 0
        var end: Int64 = .min  // end of the last packet, in stream time base
        while true {
            rc = av_read_frame(input, pkt)
            if rc == FFmpeg.eof { break }
            guard rc >= 0 else {
                throw ClipReadError.damaged(path: path, detail: "reading packet \(packets + 1): \(FFmpeg.describe(rc))")
            }
            defer { av_packet_unref(pkt) }
            guard pkt.pointee.stream_index == index else { continue }
            packets += 1
            if pkt.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 {
                throw ClipReadError.truncated(path: path, detail: "packet \(packets) is incomplete")
            }
            let ts = pkt.pointee.pts != cff_nopts_value() ? pkt.pointee.pts : pkt.pointee.dts
            if ts != cff_nopts_value() { end = max(end, ts + max(pkt.pointee.duration, 0)) }
            if decoding { try decode(pkt, packetNumber: packets) }
        }
        if let pb = input.pointee.pb, pb.pointee.error < 0 {
            throw ClipReadError.damaged(path: path, detail: FFmpeg.describe(pb.pointee.error))
        }
        if decoding { try decode(nil, packetNumber: packets) }
        try checkComplete(stream, packets: packets, end: end, decoded: decoding ? frames.count : nil)

        let info = streamInfo(input, stream, frameCount: decoding ? frames.count : packets)
        var metadata: [String: String] = [:]
        for (key, value) in FFmpeg.entries(input.pointee.metadata) { metadata[key.lowercased()] = value }
        return DecodedClip(probe: ClipProbe(path: path, stream: info, metadata: metadata), frames: frames)
    }

    /// Distinguishes "cannot open" from "not a video" before FFmpeg blurs them.
    private func checkFile() throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw ClipReadError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw ClipReadError.unreadable(path: path, reason: "not a regular file")
        }
        fileSize = Int64(st.st_size)
        guard st.st_size > 0 else { throw ClipReadError.notAVideo(path: path, reason: "the file is empty") }
        guard access(path, R_OK) == 0 else {
            throw ClipReadError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// Containers index their frames (MP4) or state their duration (Matroska, MP4): fewer frames, or an
    /// earlier end, than declared means the file was cut.
    private func checkComplete(_ stream: UnsafeMutablePointer<AVStream>, packets: Int, end: Int64, decoded: Int?) throws {
        guard packets > 0 else { throw ClipReadError.truncated(path: path, detail: "it contains no video frames") }
        let declared = Int(stream.pointee.nb_frames)
        if declared > 0, packets < declared {
            throw ClipReadError.truncated(path: path, detail: "\(packets) of \(declared) frames are present")
        }
        let tb = stream.pointee.time_base
        var expectedEnd: Int64? = nil
        if stream.pointee.duration > 0, stream.pointee.duration != cff_nopts_value() {
            let start = stream.pointee.start_time != cff_nopts_value() ? stream.pointee.start_time : 0
            expectedEnd = start + stream.pointee.duration
        } else if let input, input.pointee.duration > 0, input.pointee.duration != cff_nopts_value() {
            let start = input.pointee.start_time != cff_nopts_value() ? input.pointee.start_time : 0
            expectedEnd = av_rescale_q(start + input.pointee.duration, cff_time_base_q(), tb)
        }
        if let expectedEnd, end != .min {
            // Allow one frame of slack: containers round durations.
            let rate = stream.pointee.avg_frame_rate.num > 0 ? stream.pointee.avg_frame_rate : stream.pointee.r_frame_rate
            let frameTicks = rate.num > 0 ? av_rescale_q(1, AVRational(num: rate.den, den: rate.num), tb) : 0
            if end + max(frameTicks, 1) < expectedEnd {
                let seconds = { (t: Int64) in String(format: "%.3f s", Double(t) * av_q2d(tb)) }
                throw ClipReadError.truncated(path: path,
                                              detail: "the video stops at \(seconds(end)) of \(seconds(expectedEnd))")
            }
        }
        if let decoded, decoded < packets {
            throw ClipReadError.damaged(path: path, detail: "only \(decoded) of \(packets) frames decode")
        }
    }

    private func openDecoder(_ stream: UnsafeMutablePointer<AVStream>) throws {
        let par = stream.pointee.codecpar!
        guard let codec = avcodec_find_decoder(par.pointee.codec_id) else {
            throw ClipReadError.notAVideo(path: path,
                                          reason: "no decoder for \(String(cString: avcodec_get_name(par.pointee.codec_id)))")
        }
        guard let cc = avcodec_alloc_context3(codec), let fr = av_frame_alloc() else {
            throw ClipReadError.damaged(path: path, detail: "out of memory")
        }
        decoder = cc
        frame = fr
        var rc = avcodec_parameters_to_context(cc, par)
        guard rc >= 0 else { throw ClipReadError.damaged(path: path, detail: FFmpeg.describe(rc)) }
        cc.pointee.pkt_timebase = stream.pointee.time_base
        // One thread: log messages stay on this thread; explode: a corrupt frame is an error, not concealed.
        cc.pointee.thread_count = 1
        cc.pointee.err_recognition |= AV_EF_EXPLODE
        rc = avcodec_open2(cc, codec, nil)
        guard rc >= 0 else {
            throw ClipReadError.notAVideo(path: path, reason: "cannot open the decoder: \(FFmpeg.describe(rc))")
        }
    }

    private func decode(_ pkt: UnsafeMutablePointer<AVPacket>?, packetNumber: Int) throws {
        guard let decoder, let frame else { return }
        var rc = avcodec_send_packet(decoder, pkt)
        guard rc >= 0 else {
            throw ClipReadError.damaged(path: path, detail: "decoding packet \(packetNumber): \(FFmpeg.describe(rc))")
        }
        while true {
            rc = avcodec_receive_frame(decoder, frame)
            if rc == FFmpeg.eagain || rc == FFmpeg.eof { return }
            guard rc >= 0 else {
                throw ClipReadError.damaged(path: path, detail: "decoding frame \(frames.count + 1): \(FFmpeg.describe(rc))")
            }
            defer { av_frame_unref(frame) }
            if frame.pointee.decode_error_flags != 0 || frame.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 {
                throw ClipReadError.damaged(path: path, detail: "frame \(frames.count + 1) decodes with errors")
            }
            frames.append(try convert(frame))
        }
    }

    /// Decoded picture → RGB24 using the matrix and range the frame is tagged with.
    private func convert(_ f: UnsafeMutablePointer<AVFrame>) throws -> RGBImage {
        let w = f.pointee.width, h = f.pointee.height, fmt = f.pointee.format
        if let key = scalerKey, key != (fmt, w, h) {
            throw ClipReadError.damaged(path: path, detail: "the picture format changes at frame \(frames.count + 1)")
        }
        if scaler == nil {
            scaler = try makeScaler(f)
            scalerKey = (fmt, w, h)
        }
        var rgb = [UInt8](repeating: 0, count: Int(w) * Int(h) * 3)
        let srcPlanes: [UnsafePointer<UInt8>?] = [f.pointee.data.0, f.pointee.data.1, f.pointee.data.2,
                                                  f.pointee.data.3].map { $0.map { UnsafePointer($0) } }
        let srcStrides: [Int32] = [f.pointee.linesize.0, f.pointee.linesize.1, f.pointee.linesize.2, f.pointee.linesize.3]
        let rows = rgb.withUnsafeMutableBufferPointer { dst -> Int32 in
            let dstPlanes: [UnsafeMutablePointer<UInt8>?] = [dst.baseAddress, nil, nil, nil]
            let dstStrides: [Int32] = [w * 3, 0, 0, 0]
            return sws_scale(scaler, srcPlanes, srcStrides, 0, h, dstPlanes, dstStrides)
        }
        guard rows == h else {
            throw ClipReadError.damaged(path: path, detail: "converting frame \(frames.count + 1) to RGB failed")
        }
        return RGBImage(width: Int(w), height: Int(h), pixels: rgb)
    }

    private func makeScaler(_ f: UnsafeMutablePointer<AVFrame>) throws -> OpaquePointer {
        let src = AVPixelFormat(rawValue: f.pointee.format)
        guard let sws = sws_getContext(f.pointee.width, f.pointee.height, src, f.pointee.width, f.pointee.height,
                                       AV_PIX_FMT_RGB24,
                                       SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_BITEXACT,
                                       nil, nil, nil) else {
            throw ClipReadError.damaged(path: path,
                                        detail: "no conversion from \(FFmpeg.pixelFormatName(src)) to RGB")
        }
        if !FFmpeg.isRGB(src) {
            var space = f.pointee.colorspace
            if space == AVCOL_SPC_UNSPECIFIED, let par = videoStream?.pointee.codecpar {
                space = par.pointee.color_space
            }
            let full: Int32 = f.pointee.color_range == AVCOL_RANGE_JPEG
                || [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P].contains(src) ? 1 : 0
            let table = FFmpeg.swsCoefficients(for: space)
            _ = sws_setColorspaceDetails(sws, table, full, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16)
        }
        return sws
    }

    private func streamInfo(_ input: UnsafeMutablePointer<AVFormatContext>, _ stream: UnsafeMutablePointer<AVStream>,
                            frameCount: Int) -> ClipStreamInfo {
        let par = stream.pointee.codecpar!.pointee
        let rate = stream.pointee.avg_frame_rate.num > 0 && stream.pointee.avg_frame_rate.den > 0
            ? stream.pointee.avg_frame_rate : stream.pointee.r_frame_rate
        let props = avcodec_descriptor_get(par.codec_id)?.pointee.props ?? 0
        let lossless = props & AV_CODEC_PROP_LOSSLESS != 0 && props & AV_CODEC_PROP_LOSSY == 0
        return ClipStreamInfo(
            container: String(cString: input.pointee.iformat.pointee.name),
            codec: String(cString: avcodec_get_name(par.codec_id)),
            pixelFormat: FFmpeg.pixelFormatName(AVPixelFormat(rawValue: par.format)),
            width: Int(par.width), height: Int(par.height), frameCount: frameCount,
            frameRate: FrameRate(Int(rate.num), Int(rate.den)), isLossless: lossless,
            color: FFmpeg.colorNames(space: par.color_space, primaries: par.color_primaries,
                                     transfer: par.color_trc, range: par.color_range),
            fileSize: Int(max(avio_size(input.pointee.pb), 0)))
    }
}
