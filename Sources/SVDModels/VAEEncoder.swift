import SVDCore

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/autoencoders/vae.py (`Encoder`)

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
        convIn = try Conv2dLayer(w["conv_in"], in: layout.imageChannels, out: layout.encoder[0].inChannels, kernel: 3,
                                 padding: .same(1))
        downBlocks = try layout.encoder.enumerated().map { i, block in try VAEDownBlock(w["down_blocks"]["\(i)"], block) }
        let channels = layout.midChannels, latentChannels = layout.latentChannels
        let mid = w["mid_block"]
        midResnets = (try vaeResnet(mid["resnets"]["0"], channels, channels),
                      try vaeResnet(mid["resnets"]["1"], channels, channels))
        midAttention = try VAEAttention(mid["attentions"]["0"], channels: channels)
        normOut = try GroupNormLayer(w["conv_norm_out"], channels: channels, eps: 1e-6)
        convOut = try Conv2dLayer(w["conv_out"], in: channels, out: 2 * latentChannels, kernel: 3, padding: .same(1))
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
        downsample = block.resample
            ? try Conv2dLayer(w["downsamplers"]["0"]["conv"], in: outChannels, out: outChannels, kernel: 3, stride: 2,
                              padding: Padding2D(top: 0, left: 0, bottom: 1, right: 1))
            : nil
    }

    /// In place, so the caller's tensor is released as soon as each layer has consumed it.
    func callAsFunction(_ h: inout Tensor) {
        for resnet in resnets { h = resnet(h, temb: nil) }
        if let downsample { h = downsample(h) }
    }
}

/// A VAE spatial resnet: no time embedding, eps 1e-6.
func vaeResnet(_ w: Weights, _ inChannels: Int, _ outChannels: Int) throws -> ResnetBlock2D {
    try ResnetBlock2D(w, inChannels: inChannels, outChannels: outChannels, eps: 1e-6, timeEmbedDim: nil)
}
