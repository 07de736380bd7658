import Foundation
import SVDCore
import SVDModels

/// A job's peak memory beyond the loaded weights, estimated from the architecture and the job's sizes before
/// anything is rendered, so a job that cannot fit is refused with advice instead of being OOM-killed.
///
/// The model is an upper bound on this engine's live set: at any UNet level the skip stack plus the block
/// input and a fixed number of level-sized tensors (resnet, temporal resnet, blend, transformer projections
/// and token permutations) are alive; the VAE decoder holds one chunk's worth of the same at each resolution.
/// Per-worker scratch (im2col panels, attention score blocks, feed-forward row blocks) comes on top.
public struct MemoryEstimate: Sendable, Equatable {
    public let unetBytes: Int
    public let decodeBytes: Int
    public let scratchBytes: Int

    /// Live level-sized tensors besides the skips and the block input; checked against measured peaks in tests.
    static let liveTensorsPerLevel = 10
    static let decoderLiveTensors = 6

    public var activationBytes: Int { max(unetBytes, decodeBytes) + scratchBytes }

    public init(architecture a: UNetArchitecture, vaeChannels: [Int], parameters p: VideoParameters, workers: Int) {
        let rows = (p.usesGuidance ? 2 : 1) * p.numFrames
        let f = 4  // bytes per float
        // UNet: sizes per level (⌈n/2⌉ per downsampling, as the engine does).
        var h = p.height / 8, w = p.width / 8
        var levels: [(channels: Int, pixels: Int)] = []
        for c in a.blockOutChannels {
            levels.append((c, h * w))
            h = (h + 1) / 2
            w = (w + 1) / 2
        }
        var skips = levels[0].channels * levels[0].pixels
        for (i, level) in levels.enumerated() {
            let pushes = a.layersPerBlock[i] + (i < levels.count - 1 ? 1 : 0)
            let pixelsAfter = i < levels.count - 1 ? levels[i + 1].pixels : level.pixels
            skips += a.layersPerBlock[i] * level.channels * level.pixels + (pushes - a.layersPerBlock[i]) * level.channels * pixelsAfter
        }
        var unetPeak = 0
        for (i, level) in levels.enumerated() {
            let above = i + 1 < levels.count ? levels[i + 1].channels : level.channels
            let concatIn = max(level.channels, above) + level.channels
            unetPeak = max(unetPeak, (concatIn + Self.liveTensorsPerLevel * level.channels) * level.pixels)
        }
        unetBytes = rows * (skips + unetPeak) * f + rows * 8 * levels[0].pixels * f
        // VAE decoder, one chunk: at each block's resolution the resnets hold their input and a few outputs
        // (spatial, temporal, blend, norms); the upsampler holds its input, the nearest-×2 copy and the conv.
        let chunk = min(p.decodeChunkSize, p.numFrames)
        let channels = Array(vaeChannels.reversed())
        var pixels = (p.height / 8) * (p.width / 8)
        var inChannels = channels.first ?? 0
        var decodePeak = 0
        for (i, c) in channels.enumerated() {
            decodePeak = max(decodePeak, (inChannels + Self.decoderLiveTensors * c) * pixels)
            if i < channels.count - 1 {
                decodePeak = max(decodePeak, 9 * c * pixels)
                pixels *= 4
            }
            inChannels = c
        }
        // The decoder output of every frame is kept, plus the uint8 frames.
        decodeBytes = chunk * decodePeak * f + p.numFrames * 3 * p.height * p.width * (f + 1)
        // Scratch per worker: the widest im2col panel (9 taps × input channels × a column chunk).
        let widestInput = 2 * (a.blockOutChannels.max() ?? 0) + max(vaeChannels.max() ?? 0, 0)
        let perWorker = 9 * widestInput * 2048 * f + 256 * (levels[0].pixels + 12 * (a.blockOutChannels.max() ?? 0)) * f
        // A compact (16-bit) weight is expanded to float32 for the call using it, into one of two kept scratch blocks
        // (a feed-forward holds two): the largest is an up-block 3×3 conv over the concatenated skip, C × 2C × 9.
        let widest = a.blockOutChannels.max() ?? 0
        scratchBytes = max(workers, 1) * perWorker + 2 * 18 * widest * widest * f
    }

    /// Memory the process may still use: MemAvailable, capped by a cgroup v2 limit if one is set.
    public static func availableBytes() -> Int? {
        var available: Int?
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
            for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
                let fields = line.split(separator: " ")
                if fields.count >= 2, let kb = Int(fields[1]) { available = kb * 1024 }
            }
        }
        if let limit = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), let max = Int(limit),
           let usedText = try? String(contentsOfFile: "/sys/fs/cgroup/memory.current", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), let used = Int(usedText) {
            available = min(available ?? Int.max, max - used)
        }
        return available
    }

    /// Throws `PipelineError.insufficientMemory` when the job's activations cannot fit.
    public func check(available: Int?) throws {
        guard let available, activationBytes > available else { return }
        let advice = decodeBytes > unetBytes
            ? "lower decode_chunk_size (this changes the frames), or width/height"
            : "lower width/height or num_frames"
        throw PipelineError.insufficientMemory(requiredBytes: activationBytes, availableBytes: available, advice: advice)
    }
}

extension Int {
    /// Bytes as GiB with one decimal, for messages.
    public var gibibytes: String { String(format: "%.1f GiB", Double(self) / 1_073_741_824) }
}
