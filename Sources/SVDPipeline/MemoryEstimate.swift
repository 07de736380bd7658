import Foundation
import SVDCore
import SVDModels

/// A job's peak memory beyond the loaded weights, estimated from the architecture and the job's sizes before
/// anything is rendered, so a job that cannot fit is refused with advice instead of being OOM-killed.
///
/// The model is an upper bound on this engine's live set: at any UNet level the skip stack plus the block
/// input and a fixed number of level-sized tensors (resnet, temporal resnet, blend, transformer projections
/// and token permutations) are alive; the streamed VAE decoder holds two whole-chunk tensors at each
/// resolution plus a group of frames' intermediates (`DecoderMemory`).
/// Scratch (convolution panels, attention score blocks, feed-forward row blocks, idle pools) comes on top.
public struct MemoryEstimate: Sendable, Equatable {
    public let unetBytes: Int
    public let decodeBytes: Int
    public let scratchBytes: Int

    /// Live level-sized tensors besides the skips and the block input; checked against measured peaks in tests.
    static let liveTensorsPerLevel = 10

    public var activationBytes: Int { max(unetBytes, decodeBytes) + scratchBytes }

    public init(unet l: UNetLayout, vae: VAELayout, parameters p: VideoParameters, workers: Int) {
        let rows = (p.usesGuidance ? 2 : 1) * p.numFrames
        let f = 4  // bytes per float
        let pixels = l.latentPositions(height: p.height / 8, width: p.width / 8)
        let skips = l.skips.reduce(0) { $0 + $1.channels * pixels[$1.level] }
        var unetPeak = 0
        for (i, level) in l.down.enumerated() {
            let above = i + 1 < l.levels ? l.down[i + 1].outChannels : level.outChannels
            let concatIn = max(level.outChannels, above) + level.outChannels
            unetPeak = max(unetPeak, (concatIn + Self.liveTensorsPerLevel * level.outChannels) * pixels[i])
        }
        unetBytes = rows * (skips + unetPeak) * f + rows * 8 * pixels[0] * f
        // VAE decoder, one chunk, streamed: see `DecoderMemory`.
        let chunk = min(p.decodeChunkSize, p.numFrames)
        let decodePeak = DecoderMemory(frames: chunk)
            .peakBytes(vae: vae, latentPixels: (p.height / 8) * (p.width / 8))
        // The decoder output of every frame is kept, plus the uint8 frames.
        decodeBytes = decodePeak + p.numFrames * 3 * p.height * p.width * (f + 1)
        // Scratch: per worker a convolution panel with its product (or Winograd's transformed tiles, at most 3
        // panels' worth) and an attention score block / feed-forward row block; per call the Winograd kernel
        // transform (36 × O × C with 4×4 tiles) of the widest 3×3 layer and, for a call of few panels, their
        // transformed tiles shared by the workers (at most targetTasks panels); two blocks into which compact (16-bit) weights are
        // expanded for the call using them (the largest: an up-block 3×3 conv over the concatenated skip,
        // C × 2C × 9); and what the scratch pool and the tensor storage cache may keep idle.
        let widest = l.down.map(\.outChannels).max() ?? 0
        let perWorker = 3 * Convolution.panelFloats * f + 256 * (pixels[0] + 12 * widest) * f
        let kernelTransform = 36 * widest * max(2 * widest, vae.midChannels) * f
            + Parallel.targetTasks * Convolution.panelFloats * f
        scratchBytes = max(workers, 1) * perWorker + kernelTransform + ScratchPool.shared.idleLimitBytes
            + 2 * 18 * widest * widest * f + StorageCache.limitBytes
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
