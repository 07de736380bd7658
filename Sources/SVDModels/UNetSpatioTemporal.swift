import SVDCore

/// The UNet's architecture, read from its config.
public struct UNetArchitecture: Sendable, Equatable {
    public var inChannels = 8
    public var outChannels = 4
    public var blockOutChannels = [320, 640, 1280, 1280]
    public var headsPerBlock = [5, 10, 20, 20]
    public var layersPerBlock = [2, 2, 2, 2]
    public var transformerLayersPerBlock = [1, 1, 1, 1]
    public var additionTimeEmbedDim = 256
    public init() {}

    public init(_ config: UNetConfig) {
        inChannels = config.inChannels
        outChannels = config.outChannels
        blockOutChannels = config.blockOutChannels
        headsPerBlock = config.numAttentionHeads
        layersPerBlock = config.layersPerBlock
        transformerLayersPerBlock = config.transformerLayersPerBlock
        additionTimeEmbedDim = config.additionTimeEmbedDim
    }
}

/// diffusers' `UNetSpatioTemporalConditionModel`: v-prediction for every frame of every video.
public struct UNetSpatioTemporal {
    public let architecture: UNetArchitecture
    let convIn, convOut: Conv2dLayer
    let timeEmbedding, addEmbedding: TimestepEmbedding
    let downBlocks: [UNetDownBlock]
    let midBlock: UNetMidBlock
    let upBlocks: [UNetUpBlock]
    let normOut: GroupNormLayer

    public init(_ w: Weights, architecture a: UNetArchitecture) throws {
        architecture = a
        let ch = a.blockOutChannels, levels = ch.count
        convIn = try Conv2dLayer(w["conv_in"], padding: .same(1))
        timeEmbedding = try TimestepEmbedding(w["time_embedding"])
        addEmbedding = try TimestepEmbedding(w["add_embedding"])
        // Down: cross-attention blocks, then a plain block at the bottom with no downsampler.
        var skipChannels = [ch[0]]
        var down: [UNetDownBlock] = []
        for i in 0..<levels {
            let last = i == levels - 1
            down.append(try UNetDownBlock(w["down_blocks.\(i)"], inChannels: i == 0 ? ch[0] : ch[i - 1],
                                          outChannels: ch[i], layers: a.layersPerBlock[i],
                                          heads: last ? nil : a.headsPerBlock[i],
                                          transformerLayers: a.transformerLayersPerBlock[i], downsample: !last))
            skipChannels += Array(repeating: ch[i], count: a.layersPerBlock[i]) + (last ? [] : [ch[i]])
        }
        downBlocks = down
        midBlock = try UNetMidBlock(w["mid_block"], channels: ch[levels - 1], heads: a.headsPerBlock[levels - 1],
                                    transformerLayers: a.transformerLayersPerBlock[levels - 1])
        // Up: a plain block first, then cross-attention blocks, mirroring the channel list.
        var up: [UNetUpBlock] = []
        var current = ch[levels - 1]
        for i in 0..<levels {
            let level = levels - 1 - i
            let n = a.layersPerBlock[level] + 1
            let skips = (0..<n).map { _ in skipChannels.removeLast() }
            up.append(try UNetUpBlock(w["up_blocks.\(i)"], inChannels: current, outChannels: ch[level],
                                      skipChannels: skips, heads: i == 0 ? nil : a.headsPerBlock[level],
                                      transformerLayers: a.transformerLayersPerBlock[level], upsample: i < levels - 1))
            current = ch[level]
        }
        upBlocks = up
        normOut = try GroupNormLayer(w["conv_norm_out"], eps: 1e-5)
        convOut = try Conv2dLayer(w["conv_out"], padding: .same(1))
    }

    /// sample [Bu, F, in, h, w]; timestep t; context [Bu, 1, D]; addedTimeIds [Bu][3]. Returns [Bu, F, out, h, w].
    public func callAsFunction(sample: Tensor, timestep: Float, context: Tensor, addedTimeIds: [[Float]]) -> Tensor {
        let batch = sample.shape[0], frames = sample.shape[1]
        let height = sample.shape[3], width = sample.shape[4]
        let a = architecture
        var emb = timeEmbedding(SinusoidalEmbedding.embed(Array(repeating: timestep, count: batch),
                                                          dim: a.blockOutChannels[0]))
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
        let factor = 1 << (a.blockOutChannels.count - 1)
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
