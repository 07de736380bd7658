import SVDCore

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/autoencoders/autoencoder_kl_temporal_decoder.py
//           https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/attention_processor.py (`Attention`)

/// diffusers' `AutoencoderKLTemporalDecoder`: a per-image encoder + quant_conv whose posterior mean
/// is the image latent, and a temporal decoder run over consecutive chunks of frames. No post_quant_conv.
/// Built from the VAE checkpoint's root scope (keys `encoder.*`, `quant_conv.*`, `decoder.*`).
public struct AutoencoderKLTemporalDecoder {
    public let encoder: VAEEncoder
    public let decoder: TemporalDecoder
    public let latentChannels: Int
    public let scalingFactor: Double
    let quantConv: Conv2dLayer
    let quantConvPath: String

    /// `scalingFactor` is the config's double: decoding multiplies by fl32(1/scalingFactor) computed in double.
    public init(_ w: Weights, layout: VAELayout, scalingFactor: Double) throws {
        let latentChannels = layout.latentChannels
        encoder = try VAEEncoder(w["encoder"], layout: layout)
        quantConv = try Conv2dLayer(w["quant_conv"], in: 2 * latentChannels, out: 2 * latentChannels, kernel: 1,
                                    padding: .same(0))
        quantConvPath = w["quant_conv"].path
        decoder = try TemporalDecoder(w["decoder"], layout: layout)
        self.latentChannels = latentChannels
        self.scalingFactor = scalingFactor
    }

    /// images [n, 3, H, W] in [−1, 1] → posterior mean [n, latent, H/8, W/8] (the mode; unscaled, not sampled).
    public func encode(_ images: Tensor) -> Tensor {
        let moments = quantConv(encoder(images))  // [n, 2·latent, h, w]: mean, then logvar
        ActivationTrace.record(quantConvPath, moments)
        let n = moments.shape[0], plane = moments.shape[2] * moments.shape[3]
        let mean = Tensor(uninitialized: [n, latentChannels, moments.shape[2], moments.shape[3]])
        withExtendedLifetime(moments) {
            for i in 0..<n {
                (mean.data + i * latentChannels * plane).update(from: moments.data + i * 2 * latentChannels * plane,
                                                                count: latentChannels * plane)
            }
        }
        return mean
    }

    /// Final latents, frame-flattened [rows, latent, h, w] → decoded frames [rows, 3, 8h, 8w] (raw, unclamped).
    /// Rows are decoded in consecutive chunks of `chunkSize` (the last may be shorter), each as one video of
    /// that many frames, so the temporal layers see only their own chunk.
    public func decode(latents: Tensor, chunkSize: Int) -> Tensor {
        precondition(chunkSize >= 1, "decode chunk size must be positive")
        precondition(latents.rank == 4 && latents.shape[1] == latentChannels, "decode: latents \(latents.shape)")
        // diffusers computes `1 / scaling_factor` in Python (double) and multiplies by it as a float32 scalar.
        let scale = Float(1 / scalingFactor)
        let rows = latents.shape[0], f = decoder.upscaleFactor
        let output = Tensor(uninitialized: [rows, decoder.outChannels, latents.shape[2] * f, latents.shape[3] * f])
        let rowSize = output.count / max(rows, 1)
        var start = 0
        while start < rows {
            let count = min(chunkSize, rows - start)
            let z = Elementwise.map(latents.slice(first: start, count)) { $0 * scale }
            // Each chunk goes straight into the result instead of being kept for a concat.
            let frames = decoder(z, frames: count)
            withExtendedLifetime(frames) {
                (output.data + start * rowSize).update(from: frames.data, count: count * rowSize)
            }
            start += count
        }
        return output
    }
}

/// The VAE mid-block attention (diffusers `Attention` with `norm_num_groups`, `residual_connection`):
/// GroupNorm(32, eps 1e-6) → self-attention over the y·x positions of each image (one head in SVD, scale
/// channels^−½) with biased q/k/v/out → plus the un-normalised input.
/// It stays in NCHW: the projections are 1×1 convolutions and the attention reads q/k/v channel-major, so no
/// token-layout copies of the map are made.
public struct VAEAttention {
    let norm: GroupNormLayer
    let toQ, toK, toV, toOut: (weight: WeightTensor, bias: Tensor)  // Linear (C, C) weights viewed as (C, C, 1, 1)
    let heads: Int

    public init(_ w: Weights, channels: Int, heads: Int = 1) throws {
        norm = try GroupNormLayer(w["group_norm"], channels: channels, eps: 1e-6)
        // Linear (C, C) weights, applied as 1×1 convolutions. Older names (query/key/value/proj_attn) and 4-D
        // storage are handled by the weight set's naming rules.
        func projection(_ name: String) throws -> (weight: WeightTensor, bias: Tensor) {
            (try w[name].weight("weight", shape: [channels, channels]).reshaped([channels, channels, 1, 1]),
             try w[name].tensor("bias", shape: [channels]))
        }
        toQ = try projection("to_q")
        toK = try projection("to_k")
        toV = try projection("to_v")
        toOut = try projection("to_out.0")
        self.heads = heads
    }

    /// x [n, C, y, x] → [n, C, y, x]; every image (frame) attends within itself.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        func project(_ p: (weight: WeightTensor, bias: Tensor), _ t: Tensor) -> Tensor {
            p.weight.withFloat32 { Convolution.conv2d(t, weight: $0, bias: p.bias, padding: .same(0)) }
        }
        let normed = norm(x)
        let q = project(toQ, normed), k = project(toK, normed), v = project(toV, normed)
        let out = project(toOut, Attention.channelMajor(q: q, k: k, v: v, heads: heads))
        Elementwise.addInPlace(out, x)
        return out
    }
}
