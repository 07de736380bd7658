import SVDCore

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/autoencoders/autoencoder_kl_temporal_decoder.py
//           https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/unets/unet_3d_blocks.py (`MidBlockTemporalDecoder`, `UpBlockTemporalDecoder`)

/// diffusers' `TemporalDecoder`: decodes ONE chunk z [b·F, latent, h, w] (already multiplied by
/// 1/scaling_factor) into frames [b·F, 3, 8h, 8w]. Every temporal layer mixes only the F frames it is given.
/// Its resnets are `SpatioTemporalResBlock`s without temb, spatial eps 1e-6, temporal eps 1e-5, and the
/// switched AlphaBlender (weight σ(m) on the temporal branch).
public struct TemporalDecoder {
    public let outChannels: Int
    /// Output pixels per latent pixel along each axis: ×2 per upsampling block.
    public var upscaleFactor: Int { 1 << upBlocks.filter { $0.upsample != nil }.count }

    let convIn: Conv2dLayer
    let midResnets: [SpatioTemporalResBlock]
    let midAttention: VAEAttention?
    let upBlocks: [TemporalDecoderUpBlock]
    let normOut: GroupNormLayer
    let convOut: Conv2dLayer
    let timeConvOut: TemporalConvLayer
    let path: String  // module path, to name traced activations as diffusers does
    /// Parallel tasks each streamed group of frames aims at; nil: `DecoderStreaming.groupTasks`. Convolutions
    /// multiply panels across a group's frames, so a different value may change result bits with some BLAS
    /// kernels: renders keep the default, tests set it to exercise small groups.
    public var groupTargetTasks: Int?

    public init(_ w: Weights, layout: VAELayout) throws {
        let top = layout.midChannels, outChannels = layout.outChannels
        convIn = try Conv2dLayer(w["conv_in"], in: layout.latentChannels, out: top, kernel: 3, padding: .same(1))
        let mid = w["mid_block"]
        midResnets = try (0..<layout.decoderMidResnetsRun).map { try decoderResnet(mid["resnets"]["\($0)"], top, top) }
        midAttention = layout.decoderMidRunsAttention ? try VAEAttention(mid["attentions"]["0"], channels: top) : nil
        // Stored but never run (see `VAELayout.decoderMidResnetsStored`): listed, never loaded.
        if w.isRecording {
            for j in layout.decoderMidResnetsRun..<layout.decoderMidResnetsStored {
                _ = try decoderResnet(mid["resnets"]["\(j)"], top, top)
            }
            if !layout.decoderMidRunsAttention { _ = try VAEAttention(mid["attentions"]["0"], channels: top) }
        }
        upBlocks = try layout.decoder.enumerated().map { i, block in try TemporalDecoderUpBlock(w["up_blocks"]["\(i)"], block) }
        let channels = layout.decoder.last!.outChannels
        normOut = try GroupNormLayer(w["conv_norm_out"], channels: channels, eps: 1e-6)
        convOut = try Conv2dLayer(w["conv_out"], in: channels, out: outChannels, kernel: 3, padding: .same(1))
        timeConvOut = try TemporalConvLayer(w["time_conv_out"], channels: outChannels)
        self.outChannels = outChannels
        path = w.path
    }

    /// z [b·F, latent, h, w] → frames [b·F, out, h·upscale, w·upscale], the raw decoder output.
    /// Streamed so memory does not grow with the frames beyond what the temporal layers need: the per-image
    /// layers between two temporal layers run as one `FrameStage` (a group of frames at a time), and each
    /// temporal resnet mixes in place (`mixTemporally`). The same arithmetic per layer as running each layer on
    /// the whole chunk, with convolution panels following the groups (fixed by the shapes).
    public func callAsFunction(_ z: Tensor, frames: Int) -> Tensor {
        precondition(frames >= 1 && z.shape[0] % frames == 0, "decoder: \(z.shape[0]) rows in videos of \(frames) frames")
        var h = z  // the one whole-chunk activation between stages; reassigning it frees the previous one
        var pending: [FrameLayer] = []
        let tracing = ActivationTrace.sink != nil
        let tasks = groupTargetTasks ?? DecoderStreaming.groupTasks
        func runPending() {
            guard !pending.isEmpty else { return }
            h = FrameStage(layers: pending, targetTasks: tasks)(h)
            pending = []
        }
        func perFrame(_ layer: FrameLayer) {
            pending.append(layer)
            // A trace needs the whole activation, so a traced layer ends its stage while tracing.
            guard tracing, !layer.traceNames.isEmpty else { return }
            runPending()
            for name in layer.traceNames { ActivationTrace.record(name, h) }
        }
        func resnet(_ block: SpatioTemporalResBlock, traceNames: [String] = []) {
            perFrame(block.spatialLayer)
            runPending()
            block.mixTemporally(h, frames: frames, targetTasks: tasks)
            for name in [block.path] + traceNames { ActivationTrace.record(name, h) }
        }

        perFrame(FrameLayer(traceNames: [path + ".conv_in"]) { [convIn] in convIn($0) })
        let midName = path + ".mid_block"
        resnet(midResnets[0], traceNames: midAttention == nil ? [midName] : [])
        if let midAttention {
            perFrame(FrameLayer { midAttention($0) })
            resnet(midResnets[1], traceNames: [midName])
        }
        for (i, block) in upBlocks.enumerated() {
            let blockName = path + ".up_blocks.\(i)"
            for (j, r) in block.resnets.enumerated() {
                resnet(r, traceNames: j == block.resnets.count - 1 && block.upsample == nil ? [blockName] : [])
            }
            if let upsample = block.upsample {
                perFrame(FrameLayer(traceNames: [blockName]) {
                    upsample(Resample.nearest($0, height: 2 * $0.shape[2], width: 2 * $0.shape[3]))
                })
            }
        }
        perFrame(FrameLayer(traceNames: [path + ".conv_out"]) { [normOut, convOut] in convOut(normOut($0, silu: true)) })
        runPending()
        return timeConvOut(h, frames: frames)
    }
}

/// `UpBlockTemporalDecoder`: decoder resnets, then (all but the last block) nearest ×2 + 3×3 conv.
struct TemporalDecoderUpBlock {
    let resnets: [SpatioTemporalResBlock]
    let upsample: Conv2dLayer?

    init(_ w: Weights, _ block: VAELayout.Block) throws {
        let outChannels = block.outChannels
        resnets = try (0..<block.resnets).map { try decoderResnet(w["resnets"]["\($0)"], block.resnetInput($0), outChannels) }
        upsample = block.resample
            ? try Conv2dLayer(w["upsamplers"]["0"]["conv"], in: outChannels, out: outChannels, kernel: 3, padding: .same(1))
            : nil
    }
}

/// A decoder `SpatioTemporalResBlock`: no time embedding, spatial eps 1e-6, temporal eps 1e-5, switched blend.
func decoderResnet(_ w: Weights, _ inChannels: Int, _ outChannels: Int) throws -> SpatioTemporalResBlock {
    try SpatioTemporalResBlock(w, inChannels: inChannels, outChannels: outChannels, eps: 1e-6, temporalEps: 1e-5,
                               timeEmbedDim: nil, switchSpatialToTemporal: true)
}
