import SVDCore

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/unets/unet_spatio_temporal_condition.py

/// diffusers' `UNetSpatioTemporalConditionModel`: v-prediction for every frame of every video.
public struct UNetSpatioTemporal {
    public let layout: UNetLayout
    let convIn, convOut: Conv2dLayer
    let timeEmbedding, addEmbedding: TimestepEmbedding
    let downBlocks: [UNetDownBlock]
    let midBlock: UNetMidBlock
    let upBlocks: [UNetUpBlock]
    let normOut: GroupNormLayer

    public init(_ w: Weights, layout: UNetLayout) throws {
        self.layout = layout
        let base = layout.baseChannels, temb = layout.timeEmbedDim
        convIn = try Conv2dLayer(w["conv_in"], in: layout.inChannels, out: base, kernel: 3, padding: .same(1))
        timeEmbedding = try TimestepEmbedding(w["time_embedding"], in: base, hidden: temb, out: temb)
        addEmbedding = try TimestepEmbedding(w["add_embedding"], in: layout.addedTimeInputDim, hidden: temb, out: temb)
        downBlocks = try layout.down.enumerated().map { i, block in
            try UNetDownBlock(w["down_blocks.\(i)"], block, layout: layout)
        }
        midBlock = try UNetMidBlock(w["mid_block"], layout.mid, layout: layout)
        upBlocks = try layout.up.enumerated().map { i, block in try UNetUpBlock(w["up_blocks.\(i)"], block, layout: layout) }
        normOut = try GroupNormLayer(w["conv_norm_out"], channels: base, eps: 1e-5)
        convOut = try Conv2dLayer(w["conv_out"], in: base, out: layout.outChannels, kernel: 3, padding: .same(1))
    }

    /// sample [Bu, F, in, h, w]; timestep t; context [Bu, 1, D]; addedTimeIds [Bu][3]. Returns [Bu, F, out, h, w].
    public func callAsFunction(sample: Tensor, timestep: Float, context: Tensor, addedTimeIds: [[Float]]) -> Tensor {
        let batch = sample.shape[0], frames = sample.shape[1]
        let height = sample.shape[3], width = sample.shape[4]
        let a = layout
        var emb = timeEmbedding(SinusoidalEmbedding.embed(Array(repeating: timestep, count: batch),
                                                          dim: a.baseChannels))
        let addIds = addedTimeIds.flatMap { $0 }
        let aug = addEmbedding(SinusoidalEmbedding.embed(addIds, dim: a.additionTimeEmbedDim)
            .reshaped([batch, addIds.count / batch * a.additionTimeEmbedDim]))
        ActivationTrace.record("time_embedding", emb)
        ActivationTrace.record("add_embedding", aug)
        emb = Elementwise.add(emb, aug)
        let cond = UNetConditioning(temb: Rows.repeatEach(emb, times: frames),
                                    context: Rows.repeatEach(context, times: frames), frames: frames)

        var h = convIn(sample.reshaped([batch * frames, sample.shape[2], height, width]))
        ActivationTrace.record("conv_in", h)
        var skips = [h]
        for (i, block) in downBlocks.enumerated() {
            let (out, pushed) = block(h, cond)
            h = out
            ActivationTrace.record("down_blocks.\(i)", h)
            skips += pushed
        }
        h = midBlock(h, cond)
        ActivationTrace.record("mid_block", h)
        // Odd latent sizes: each upsampler but the last block's hits the size of the next skip tensor.
        let factor = 1 << (a.levels - 1)
        let forwardSize = height % factor != 0 || width % factor != 0
        for (i, block) in upBlocks.enumerated() {
            var remaining = skips
            remaining.removeLast(block.skipCount)
            let target = forwardSize && i < upBlocks.count - 1 ? remaining.last.map { ($0.shape[2], $0.shape[3]) } : nil
            h = block(h, skips: &skips, upsampleTo: target, cond)
            ActivationTrace.record("up_blocks.\(i)", h)
        }
        h = convOut(normOut(h, silu: true))
        ActivationTrace.record("conv_out", h)
        return h.reshaped([batch, frames, a.outChannels, height, width])
    }
}

enum Rows {
    /// Each row of x [n, …] repeated `times` times consecutively (torch's repeat_interleave on dim 0).
    static func repeatEach(_ x: Tensor, times: Int) -> Tensor {
        let n = x.shape[0], inner = x.count / n
        var shape = x.shape
        shape[0] = n * times
        let out = Tensor(uninitialized: shape)
        for i in 0..<n {
            for r in 0..<times { (out.data + (i * times + r) * inner).update(from: x.data + i * inner, count: inner) }
        }
        return out
    }
}
