import CFFmpeg
import Foundation

/// Small bridges over FFmpeg's C API shared by the clip writer and reader: log routing, error text,
/// option dictionaries and colour-name lookups.
enum FFmpeg {
    /// FFmpeg's text for an error code ("Invalid data found when processing input", …).
    static func errorText(_ code: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 128)
        let found = buf.withUnsafeMutableBufferPointer { p -> Bool in
            guard av_strerror(code, p.baseAddress, p.count) == 0 else { return false }
            return true
        }
        guard found else { return "FFmpeg error \(code)" }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// `errorText` plus the last message FFmpeg logged on this thread, which usually names the cause
    /// ("moov atom not found") where the code alone says only "Invalid data".
    static func describe(_ code: Int32) -> String {
        let text = errorText(code)
        guard let logged = FFmpegLog.takeLastError(), !logged.isEmpty, logged != text else { return text }
        return "\(text) (\(logged))"
    }

    static let eagain = cff_averror(EAGAIN)
    static let eof = cff_averror_eof()

    /// Builds an AVDictionary; the caller frees it with `av_dict_free`.
    static func dictionary(_ entries: [String: String]) -> OpaquePointer? {
        var dict: OpaquePointer? = nil
        // Sorted so that option application order (and thus any order-dependent side effect) is fixed.
        for key in entries.keys.sorted() { av_dict_set(&dict, key, entries[key], 0) }
        return dict
    }

    /// All entries of a dictionary (5.1 has no `av_dict_iterate`).
    static func entries(_ dict: OpaquePointer?) -> [(key: String, value: String)] {
        var result: [(key: String, value: String)] = []
        var entry: UnsafeMutablePointer<AVDictionaryEntry>? = nil
        while let e = av_dict_get(dict, "", entry, AV_DICT_IGNORE_SUFFIX) {
            result.append((String(cString: e.pointee.key), String(cString: e.pointee.value)))
            entry = e
        }
        return result
    }

    /// FFmpeg's name for a pixel format ("yuv420p"), or "unknown".
    static func pixelFormatName(_ fmt: AVPixelFormat) -> String {
        guard let name = av_get_pix_fmt_name(fmt) else { return "unknown" }
        return String(cString: name)
    }

    static func colorNames(space: AVColorSpace, primaries: AVColorPrimaries, transfer: AVColorTransferCharacteristic,
                           range: AVColorRange) -> ColorTags {
        func name(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "unknown" }
        return ColorTags(matrix: name(av_color_space_name(space)), primaries: name(av_color_primaries_name(primaries)),
                         transfer: name(av_color_transfer_name(transfer)), range: name(av_color_range_name(range)))
    }

    /// swscale's coefficient table for a stream's matrix; BT.601 when untagged, as players assume.
    static func swsCoefficients(for space: AVColorSpace) -> UnsafePointer<Int32> {
        let cs: Int32
        switch space {
        case AVCOL_SPC_BT709: cs = SWS_CS_ITU709
        case AVCOL_SPC_FCC: cs = SWS_CS_FCC
        case AVCOL_SPC_SMPTE240M: cs = SWS_CS_SMPTE240M
        case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: cs = SWS_CS_BT2020
        default: cs = SWS_CS_ITU601
        }
        return sws_getCoefficients(cs)
    }

    static func isRGB(_ fmt: AVPixelFormat) -> Bool {
        guard let desc = av_pix_fmt_desc_get(fmt) else { return false }
        return desc.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) != 0
    }
}

/// Routes FFmpeg's log: nothing is printed (x264 statistics, demuxer chatter), and the last error-level
/// line per thread is kept so that typed errors can quote it. Codecs run with one thread, so messages
/// arrive on the thread that called into FFmpeg.
enum FFmpegLog {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var lastError: [pthread_t: String] = [:]

    private static let installed: Bool = {
        av_log_set_level(AV_LOG_ERROR)
        av_log_set_callback { avcl, level, fmt, vl in
            guard level <= AV_LOG_ERROR, let fmt, let vl else { return }
            var line = [CChar](repeating: 0, count: 512)
            var printPrefix: Int32 = 0
            _ = line.withUnsafeMutableBufferPointer { p in
                av_log_format_line2(avcl, level, fmt, vl, p.baseAddress, Int32(p.count), &printPrefix)
            }
            let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { return }
            FFmpegLog.lock.lock()
            FFmpegLog.lastError[pthread_self()] = text
            FFmpegLog.lock.unlock()
        }
        return true
    }()

    /// Installs the callback (once per process) and forgets this thread's previous message.
    static func begin() {
        _ = installed
        _ = takeLastError()
    }

    static func takeLastError() -> String? {
        lock.lock()
        defer { lock.unlock() }
        return lastError.removeValue(forKey: pthread_self())
    }
}
