/// The container/codec families a clip can be written in (`--format`).
public enum ClipFormat: String, Codable, CaseIterable, Hashable, Sendable {
    /// H.264 (libx264) yuv420p in MP4: plays everywhere.
    case mp4
    /// VP9 (libvpx-vp9) yuv420p in WebM, constant quality.
    case webm
    /// FFV1 bgr0 in Matroska: decodes back to the exact RGB frames (archiving, verifying reproductions).
    case mkv

    public var fileExtension: String { rawValue }

    /// The libavformat muxer name.
    var muxer: String {
        switch self {
        case .mp4: return "mp4"
        case .webm: return "webm"
        case .mkv: return "matroska"
        }
    }

    /// The CRF used when the user gives none; nil for the lossless format, where CRF means nothing.
    public var defaultCRF: Int? {
        switch self {
        case .mp4: return 18
        case .webm: return 30
        case .mkv: return nil
        }
    }

    /// The CRF scale of the encoder (x264: 0–51, VP9: 0–63).
    public var crfRange: ClosedRange<Int>? {
        switch self {
        case .mp4: return 0...51
        case .webm: return 0...63
        case .mkv: return nil
        }
    }
}

/// Colour description as FFmpeg names it (`ffprobe`'s color_space / color_primaries / color_transfer /
/// color_range), e.g. bt709 / bt709 / bt709 / tv.
public struct ColorTags: Codable, Hashable, Sendable {
    public var matrix: String
    public var primaries: String
    public var transfer: String
    public var range: String

    public init(matrix: String, primaries: String, transfer: String, range: String) {
        self.matrix = matrix
        self.primaries = primaries
        self.transfer = transfer
        self.range = range
    }

    /// BT.709, limited ("tv") range: what players assume for HD 4:2:0 video.
    public static let bt709Limited = ColorTags(matrix: "bt709", primaries: "bt709", transfer: "bt709", range: "tv")
    /// Full-range RGB with sRGB's primaries (= BT.709) and transfer: what the model's frames are.
    public static let sRGB = ColorTags(matrix: "gbr", primaries: "bt709", transfer: "iec61966-2-1", range: "pc")
}

/// Every setting that turns frames into file bytes. The writer is driven by exactly this value, so the
/// copy stored in a recipe is the truth about how the file was made, and feeding it back reproduces the file.
public struct EncoderSettings: Codable, Hashable, Sendable {
    public var format: ClipFormat
    /// libavcodec encoder name.
    public var codec: String
    /// Pixel format the encoder receives.
    public var pixelFormat: String
    /// Options given to `avcodec_open2` (generic and codec-private), including the thread count.
    public var codecOptions: [String: String]
    /// Options given to `avformat_write_header`.
    public var muxerOptions: [String: String]
    public var color: ColorTags
    /// swscale flags for the RGB → `pixelFormat` conversion (FFmpeg's `sws_flags` syntax).
    public var scaler: String

    enum CodingKeys: String, CodingKey {
        case format, codec, color, scaler
        case pixelFormat = "pixel_format"
        case codecOptions = "codec_options"
        case muxerOptions = "muxer_options"
    }

    public init(format: ClipFormat, codec: String, pixelFormat: String, codecOptions: [String: String],
                muxerOptions: [String: String], color: ColorTags, scaler: String) {
        self.format = format
        self.codec = codec
        self.pixelFormat = pixelFormat
        self.codecOptions = codecOptions
        self.muxerOptions = muxerOptions
        self.color = color
        self.scaler = scaler
    }

    /// The CRF in effect, if the codec takes one.
    public var crf: Int? { codecOptions["crf"].flatMap { Int($0) } }

    /// Whether decoding gives back the exact RGB frames.
    public var isLossless: Bool { format == .mkv }

    /// Encoder threads: fixed, because x264/VP9 output bytes depend on the thread count.
    public static let encoderThreads = 1

    /// The settings svdbatch uses for `format`, with `crf` or the format's default.
    public static func standard(_ format: ClipFormat, crf: Int? = nil) throws -> EncoderSettings {
        let threads = String(encoderThreads)
        // bitexact: no library version strings or random UIDs in the bytes.
        let muxerBase = ["fflags": "+bitexact"]
        // Accurate rounding and a fixed C path (bitexact) make the conversion identical across CPUs;
        // full_chroma_inp averages all input pixels into the 4:2:0 chroma.
        let yuvScaler = "bicubic+accurate_rnd+full_chroma_inp+bitexact"
        switch format {
        case .mp4, .webm:
            let value = crf ?? format.defaultCRF!
            guard let range = format.crfRange, range.contains(value) else {
                throw EncoderSettingsError.crfOutOfRange(format: format, crf: value, range: format.crfRange!)
            }
            if format == .mp4 {
                return EncoderSettings(
                    format: .mp4, codec: "libx264", pixelFormat: "yuv420p",
                    codecOptions: ["crf": String(value), "preset": "medium", "threads": threads, "flags": "+bitexact"],
                    muxerOptions: muxerBase.merging(["movflags": "+faststart"]) { a, _ in a },
                    color: .bt709Limited, scaler: yuvScaler)
            }
            // Constant quality in libvpx needs the bitrate cap removed (b=0).
            return EncoderSettings(
                format: .webm, codec: "libvpx-vp9", pixelFormat: "yuv420p",
                codecOptions: ["crf": String(value), "b": "0", "deadline": "good", "cpu-used": "2",
                               "row-mt": "0", "threads": threads, "flags": "+bitexact"],
                muxerOptions: muxerBase, color: .bt709Limited, scaler: yuvScaler)
        case .mkv:
            if let crf { throw EncoderSettingsError.crfNotApplicable(format: format, crf: crf) }
            // g=1: every frame a keyframe, so any frame of the archive decodes on its own.
            return EncoderSettings(
                format: .mkv, codec: "ffv1", pixelFormat: "bgr0",
                codecOptions: ["level": "3", "g": "1", "slicecrc": "1", "threads": threads, "flags": "+bitexact"],
                muxerOptions: muxerBase, color: .sRGB, scaler: "bicubic+accurate_rnd+bitexact")
        }
    }
}

public enum EncoderSettingsError: Error, CustomStringConvertible, Equatable {
    case crfOutOfRange(format: ClipFormat, crf: Int, range: ClosedRange<Int>)
    case crfNotApplicable(format: ClipFormat, crf: Int)

    public var description: String {
        switch self {
        case let .crfOutOfRange(format, crf, range):
            return "CRF \(crf) is outside \(range.lowerBound)…\(range.upperBound), the range for \(format.rawValue)"
        case let .crfNotApplicable(format, crf):
            return "CRF \(crf) does not apply to \(format.rawValue), which is lossless; leave --crf out"
        }
    }
}
