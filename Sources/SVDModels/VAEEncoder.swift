import SVDCore

/// diffusers' VAE `Encoder` with `DownEncoderBlock2D`s: per image, no temporal parts, every
/// GroupNorm eps 1e-6. Returns the moments [n, 2·latent, H/2^(blocks−1), …] before quant_conv.
public struct VAEEncoder {
    let convIn: Conv2dLayer
    let downBlocks: [VAEDownBlock]
    let midResnets: (ResnetBlock2D, ResnetBlock2D)
    let midAttention: VAEAttention
    let normOut: GroupNormLayer
    let convOut: Conv2dLayer
    let path: String  // module path, to name traced activations as diffusers does

    public init(_ w: Weights, layout: VAELayout) throws {
        convIn = try Conv2dLayer(w["conv_in"], padding: .same(1))
        try w["conv_in"].checkShape(convIn.weight, "weight", [layout.encoder[0].inChannels, layout.imageChannels, 3, 3])
        downBlocks = try layout.encoder.enumerated().map { i, block in try VAEDownBlock(w["down_blocks"]["\(i)"], block) }
        let channels = layout.midChannels, latentChannels = layout.latentChannels
        let mid = w["mid_block"]
        midResnets = (try vaeResnet(mid["resnets"]["0"], channels, channels),
                      try vaeResnet(mid["resnets"]["1"], channels, channels))
        midAttention = try VAEAttention(mid["attentions"]["0"], channels: channels)
        normOut = try GroupNormLayer(w["conv_norm_out"], eps: 1e-6)
        convOut = try Conv2dLayer(w["conv_out"], padding: .same(1))
        try w["conv_out"].checkShape(convOut.weight, "weight", [2 * latentChannels, channels, 3, 3])
        path = w.path
    }

    /// images [n, 3, H, W] → moments [n, 2·latent, h, w].
    public func callAsFunction(_ images: Tensor) -> Tensor {
        var h = convIn(images)
        ActivationTrace.record(path + ".conv_in", h)
        for (i, block) in downBlocks.enumerated() {
            block(&h)
            ActivationTrace.record(path + ".down_blocks.\(i)", h)
        }
        h = midResnets.0(h, temb: nil)
        h = midAttention(h)
        h = midResnets.1(h, temb: nil)
        ActivationTrace.record(path + ".mid_block", h)
        h = convOut(normOut(h, silu: true))
        ActivationTrace.record(path + ".conv_out", h)
        return h
    }
}

/// `DownEncoderBlock2D`: resnets, then (all but the last block) the VAE downsample: one zero row/column at the
/// bottom/right only, then a stride-2 3×3 conv with no other padding.
struct VAEDownBlock {
    let resnets: [ResnetBlock2D]
    let downsample: Conv2dLayer?

    init(_ w: Weights, _ block: VAELayout.Block) throws {
        let outChannels = block.outChannels
        resnets = try (0..<block.resnets).map { try vaeResnet(w["resnets"]["\($0)"], block.resnetInput($0), outChannels) }
        if block.resample {
            let conv = try Conv2dLayer(w["downsamplers"]["0"]["conv"], stride: 2,
                                       padding: Padding2D(top: 0, left: 0, bottom: 1, right: 1))
            try w["downsamplers"]["0"]["conv"].checkShape(conv.weight, "weight", [outChannels, outChannels, 3, 3])
            downsample = conv
        } else {
            downsample = nil
        }
    }

    /// In place, so the caller's tensor is released as soon as each layer has consumed it.
    func callAsFunction(_ h: inout Tensor) {
        for resnet in resnets { h = resnet(h, temb: nil) }
        if let downsample { h = downsample(h) }
    }
}

/// A VAE spatial resnet (no temb, eps 1e-6), with its widths checked against the configured ones.
func vaeResnet(_ w: Weights, _ inChannels: Int, _ outChannels: Int) throws -> ResnetBlock2D {
    try checkResnetWidths(w, inChannels, outChannels)
    let block = try ResnetBlock2D(w, inChannels: inChannels, outChannels: outChannels, eps: 1e-6, hasTimeEmbedding: false)
    try w["conv1"].checkShape(block.conv1.weight, "weight", [outChannels, inChannels, 3, 3])
    return block
}

/// Checks a resnet's norm widths before it is built: otherwise a wrong width shows up as a missing (or silently
/// unused) conv_shortcut instead of a shape error. The norms are the cheapest tensors that carry both widths.
func checkResnetWidths(_ w: Weights, _ inChannels: Int, _ outChannels: Int) throws {
    try w["norm1"].checkShape(try w["norm1"].tensor("weight"), "weight", [inChannels])
    try w["norm2"].checkShape(try w["norm2"].tensor("weight"), "weight", [outChannels])
}
