import SVDCore

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/unets/unet_3d_blocks.py

/// Everything a UNet block reads besides its input: time embedding per row, CLIP context per row, frames per video.
struct UNetConditioning {
    let temb: Tensor       // [b·F, T]
    let context: Tensor    // [b·F, 1, D]
    let frames: Int
}

/// A spatio-temporal resnet optionally followed by a spatio-temporal transformer (the `resnets.i` /
/// `attentions.i` pairs of the cross-attention blocks).
struct ResnetAttentionPair {
    let resnet: SpatioTemporalResBlock
    let attention: TransformerSpatioTemporalModel?

    func callAsFunction(_ x: Tensor, _ cond: UNetConditioning) -> Tensor {
        let h = resnet(x, temb: cond.temb, frames: cond.frames)
        return attention?(h, context: cond.context, frames: cond.frames) ?? h
    }
}

enum UNetBlockFactory {
    static func pair(_ w: Weights, index i: Int, inChannels: Int, outChannels: Int, eps: Float,
                     heads: Int?, transformerLayers: Int, layout: UNetLayout) throws -> ResnetAttentionPair {
        let resnet = try SpatioTemporalResBlock(w["resnets.\(i)"], inChannels: inChannels, outChannels: outChannels,
                                                eps: eps, temporalEps: eps, timeEmbedDim: layout.timeEmbedDim,
                                                switchSpatialToTemporal: false)
        let attention = try heads.map {
            try TransformerSpatioTemporalModel(w["attentions.\(i)"], channels: outChannels, context: layout.crossAttentionDim,
                                               heads: $0, layers: transformerLayers)
        }
        return ResnetAttentionPair(resnet: resnet, attention: attention)
    }
}

/// `CrossAttnDownBlockSpatioTemporal` (heads set) or `DownBlockSpatioTemporal` (heads nil), with an optional
/// stride-2 downsampler. Returns the output and the skip tensors it pushes.
struct UNetDownBlock {
    let pairs: [ResnetAttentionPair]
    let downsampler: Conv2dLayer?

    init(_ w: Weights, _ block: UNetLayout.DownBlock, layout: UNetLayout) throws {
        // Cross-attention down blocks use eps 1e-6; the plain DownBlockSpatioTemporal uses 1e-5.
        let eps: Float = block.heads == nil ? 1e-5 : 1e-6
        pairs = try (0..<block.layers).map { i in
            try UNetBlockFactory.pair(w, index: i, inChannels: block.resnetInput(i), outChannels: block.outChannels,
                                      eps: eps, heads: block.heads, transformerLayers: block.transformerLayers, layout: layout)
        }
        downsampler = block.downsample
            ? try Conv2dLayer(w["downsamplers.0.conv"], in: block.outChannels, out: block.outChannels, kernel: 3, stride: 2,
                              padding: .same(1))
            : nil
    }

    func callAsFunction(_ x: Tensor, _ cond: UNetConditioning) -> (Tensor, [Tensor]) {
        var h = x
        var skips: [Tensor] = []
        for pair in pairs {
            h = pair(h, cond)
            skips.append(h)
        }
        if let downsampler {
            h = downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

/// `UNetMidBlockSpatioTemporal`: resnet, then (transformer, resnet) pairs; eps 1e-5.
struct UNetMidBlock {
    let first: SpatioTemporalResBlock
    let rest: [(attention: TransformerSpatioTemporalModel, resnet: SpatioTemporalResBlock)]

    init(_ w: Weights, _ block: UNetLayout.MidBlock, layout: UNetLayout) throws {
        func resnet(_ i: Int) throws -> SpatioTemporalResBlock {
            try SpatioTemporalResBlock(w["resnets.\(i)"], inChannels: block.channels, outChannels: block.channels,
                                       eps: 1e-5, temporalEps: 1e-5, timeEmbedDim: layout.timeEmbedDim,
                                       switchSpatialToTemporal: false)
        }
        first = try resnet(0)
        rest = [(try TransformerSpatioTemporalModel(w["attentions.0"], channels: block.channels,
                                                    context: layout.crossAttentionDim, heads: block.heads,
                                                    layers: block.transformerLayers), try resnet(1))]
    }

    func callAsFunction(_ x: Tensor, _ cond: UNetConditioning) -> Tensor {
        var h = first(x, temb: cond.temb, frames: cond.frames)
        for (attention, resnet) in rest {
            h = attention(h, context: cond.context, frames: cond.frames)
            h = resnet(h, temb: cond.temb, frames: cond.frames)
        }
        return h
    }
}

/// `UpBlockSpatioTemporal` (heads nil) or `CrossAttnUpBlockSpatioTemporal`: each resnet first concatenates the
/// top skip tensor after the hidden state on the channel axis; then an optional nearest-×2 upsampler that can
/// be told an exact output size (odd latent sizes).
struct UNetUpBlock {
    let pairs: [ResnetAttentionPair]
    let upsampler: Conv2dLayer?

    init(_ w: Weights, _ block: UNetLayout.UpBlock, layout: UNetLayout) throws {
        pairs = try block.skipChannels.indices.map { i in
            try UNetBlockFactory.pair(w, index: i, inChannels: block.resnetInput(i), outChannels: block.outChannels,
                                      eps: 1e-6, heads: block.heads, transformerLayers: block.transformerLayers, layout: layout)
        }
        upsampler = block.upsample
            ? try Conv2dLayer(w["upsamplers.0.conv"], in: block.outChannels, out: block.outChannels, kernel: 3, padding: .same(1))
            : nil
    }

    var skipCount: Int { pairs.count }

    func callAsFunction(_ x: Tensor, skips: inout [Tensor], upsampleTo size: (Int, Int)?,
                        _ cond: UNetConditioning) -> Tensor {
        var h = x
        for pair in pairs {
            let skip = skips.removeLast()
            h = pair(Channels.concat(h, skip), cond)
        }
        if let upsampler {
            let (oh, ow) = size ?? (h.shape[2] * 2, h.shape[3] * 2)
            h = upsampler(Resample.nearest(h, height: oh, width: ow))
        }
        return h
    }
}

enum Channels {
    /// cat([a, b], dim=1) for [n, Ca, …] and [n, Cb, …] with equal trailing sizes.
    static func concat(_ a: Tensor, _ b: Tensor) -> Tensor {
        let n = a.shape[0], ca = a.shape[1], cb = b.shape[1]
        let inner = a.count / (n * ca)
        precondition(b.shape[0] == n && b.count / (n * cb) == inner, "channel concat: \(a.shape) vs \(b.shape)")
        var shape = a.shape
        shape[1] = ca + cb
        let out = Tensor(uninitialized: shape)
        for i in 0..<n {
            (out.data + i * (ca + cb) * inner).update(from: a.data + i * ca * inner, count: ca * inner)
            (out.data + (i * (ca + cb) + ca) * inner).update(from: b.data + i * cb * inner, count: cb * inner)
        }
        return out
    }
}
