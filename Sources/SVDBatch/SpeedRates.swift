import Foundation
import SVDCore
import SVDMedia
import SVDPipeline

/// How fast this machine runs one model's stages, measured (never assumed): FLOP/s per network stage,
/// seconds per million written pixels per clip format, and the model's load time.
struct SpeedRates: Codable, Equatable, Sendable {
    var imageEncoder: Double
    var vaeEncode: Double
    var unet: Double
    var vaeDecode: Double
    /// Clip format → seconds per million frame pixels encoded and written.
    var writeSecondsPerMegapixel: [String: Double]
    var loadSeconds: Double
    /// When and how the figures were measured, e.g. "2026-12-05T16:40:00Z probe 256×128, 2 frames".
    var measured: String

    enum CodingKeys: String, CodingKey {
        case imageEncoder = "image_encoder_flops_per_second"
        case vaeEncode = "vae_encode_flops_per_second"
        case unet = "unet_flops_per_second"
        case vaeDecode = "vae_decode_flops_per_second"
        case writeSecondsPerMegapixel = "write_seconds_per_megapixel"
        case loadSeconds = "load_seconds"
        case measured
    }

    /// The estimate for `work`, `stepsLeft` of its steps still to run, written as `format`.
    func estimate(_ work: RenderWork, stepsLeft: Int, format: ClipFormat) -> JobEstimate {
        // A format never measured costs what the slowest measured one does (the estimate errs long).
        let write = writeSecondsPerMegapixel[format.rawValue] ?? writeSecondsPerMegapixel.values.max() ?? 0
        return JobEstimate(prepare: Double(work.imageEncoder) / imageEncoder + Double(work.vaeEncode) / vaeEncode,
                           step: Double(work.unetStep) / unet, steps: max(stepsLeft, 0),
                           decode: Double(work.vaeDecode) / vaeDecode,
                           write: Double(work.writtenPixels) / 1e6 * write)
    }

    /// These rates moved halfway towards what a finished render measured, stage by stage (an average of
    /// seconds per FLOP, so one odd job cannot swing the estimate, while a real job's sizes, which say more
    /// about the next jobs than a probe's, soon dominate).
    func updated(work: RenderWork, timings: StageTimings, format: ClipFormat, writeSeconds: Double?,
                 at date: Date = Date()) -> SpeedRates {
        var r = self
        func blend(_ old: Double, _ operations: Int, _ seconds: Double) -> Double {
            guard operations > 0, seconds > 0 else { return old }
            return 1 / (0.5 / old + 0.5 * seconds / Double(operations))
        }
        r.imageEncoder = blend(imageEncoder, work.imageEncoder, timings.imageEncoder)
        r.vaeEncode = blend(vaeEncode, work.vaeEncode, timings.vaeEncode)
        r.unet = blend(unet, work.unetStep * timings.unetEvaluations.count, timings.unetEvaluations.reduce(0, +))
        r.vaeDecode = blend(vaeDecode, work.vaeDecode, timings.vaeDecode)
        if let writeSeconds, work.writtenPixels > 0 {
            let measured = writeSeconds / (Double(work.writtenPixels) / 1e6)
            r.writeSecondsPerMegapixel[format.rawValue] = writeSecondsPerMegapixel[format.rawValue].map { 0.5 * $0 + 0.5 * measured } ?? measured
        }
        r.measured = Self.timestamp(date) + " run"
        return r
    }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}

/// One job's expected seconds, by stage.
struct JobEstimate: Sendable, Equatable {
    /// CLIP and VAE encoding (run again when a job resumes).
    var prepare: Double
    /// One denoising step.
    var step: Double
    /// Steps still to run.
    var steps: Int
    var decode: Double
    /// Encoding and writing the clip.
    var write: Double

    var total: Double { prepare + step * Double(steps) + decode + write }
}
