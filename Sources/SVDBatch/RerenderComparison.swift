import Foundation
import SVDCore

/// How far one re-rendered frame is from the corresponding frame of a clip.
struct FrameDifference: Equatable {
    let index: Int
    /// The largest absolute difference of any channel of any pixel, 0…255.
    let maxDifference: Int
    /// Over all channels, in dB; +∞ for identical frames.
    let psnr: Double
}

/// Per-frame comparison of two frame sequences of the same size (as far as the shorter one goes).
enum FrameComparison {
    static func compare(_ frames: [RGBImage], with reference: [RGBImage]) -> [FrameDifference] {
        zip(frames, reference).enumerated().map { index, pair in difference(pair.0, pair.1, index: index) }
    }

    static func difference(_ a: RGBImage, _ b: RGBImage, index: Int) -> FrameDifference {
        precondition(a.width == b.width && a.height == b.height, "compare frames of the same size")
        var maxDifference = 0
        var squares = 0
        for i in 0..<a.pixels.count {
            let d = abs(Int(a.pixels[i]) - Int(b.pixels[i]))
            maxDifference = max(maxDifference, d)
            squares += d * d
        }
        let mse = Double(squares) / Double(max(a.pixels.count, 1))
        let psnr = mse == 0 ? Double.infinity : 10 * log10(255.0 * 255.0 / mse)
        return FrameDifference(index: index, maxDifference: maxDifference, psnr: psnr)
    }

    static func psnrText(_ psnr: Double) -> String { psnr.isInfinite ? "identical" : String(format: "%.2f", psnr) }
}
