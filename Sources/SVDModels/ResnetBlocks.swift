import SVDCore

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/resnet.py

/// diffusers' `ResnetBlock2D`: per-image norm → SiLU → conv, twice, with an optional time-embedding bias and a
/// 1×1 shortcut when the channel count changes.
public struct ResnetBlock2D {
    let norm1: GroupNormLayer, conv1: Conv2dLayer
    let norm2: GroupNormLayer, conv2: Conv2dLayer
    let timeEmbProj: LinearLayer?
    let shortcut: Conv2dLayer?

    /// `timeEmbedDim`: the width of the time embedding it adds, or nil for a block without one.
    public init(_ w: Weights, inChannels: Int, outChannels: Int, eps: Float, timeEmbedDim: Int?) throws {
        norm1 = try GroupNormLayer(w["norm1"], channels: inChannels, eps: eps)
        conv1 = try Conv2dLayer(w["conv1"], in: inChannels, out: outChannels, kernel: 3, padding: .same(1))
        norm2 = try GroupNormLayer(w["norm2"], channels: outChannels, eps: eps)
        conv2 = try Conv2dLayer(w["conv2"], in: outChannels, out: outChannels, kernel: 3, padding: .same(1))
        timeEmbProj = try timeEmbedDim.map { try LinearLayer(w["time_emb_proj"], in: $0, out: outChannels) }
        shortcut = inChannels != outChannels
            ? try Conv2dLayer(w["conv_shortcut"], in: inChannels, out: outChannels, kernel: 1, padding: .same(0)) : nil
    }

    /// x [n, C, y, x]; temb [n, T] (one row per image) or nil.
    public func callAsFunction(_ x: Tensor, temb: Tensor?) -> Tensor {
        var h = conv1(x, input: norm1.affine(x, silu: true))
        if let timeEmbProj, let temb {
            h = Elementwise.addBroadcast(h, perChannel: timeEmbProj(Elementwise.silu(temb)),
                                         rows: h.shape[0], channels: h.shape[1])
        }
        h = conv2(h, input: norm2.affine(h, silu: true))
        Elementwise.addInPlace(h, shortcut.map { $0(x) } ?? x)
        return h
    }
}

/// diffusers' `TemporalResnetBlock`: the same shape of block with (3,1,1) convolutions along frames and
/// GroupNorm statistics spanning all frames of a video.
public struct TemporalResnetBlock {
    let norm1: GroupNormLayer, conv1: TemporalConvLayer
    let norm2: GroupNormLayer, conv2: TemporalConvLayer
    let timeEmbProj: LinearLayer?

    public init(_ w: Weights, channels: Int, eps: Float, timeEmbedDim: Int?) throws {
        norm1 = try GroupNormLayer(w["norm1"], channels: channels, eps: eps)
        conv1 = try TemporalConvLayer(w["conv1"], channels: channels)
        norm2 = try GroupNormLayer(w["norm2"], channels: channels, eps: eps)
        conv2 = try TemporalConvLayer(w["conv2"], channels: channels)
        timeEmbProj = try timeEmbedDim.map { try LinearLayer(w["time_emb_proj"], in: $0, out: channels) }
    }

    /// x [b·F, C, y, x] (frame-flattened); temb [b·F, T] or nil.
    public func callAsFunction(_ x: Tensor, temb: Tensor?, frames: Int) -> Tensor {
        var h = conv1(norm1(x, framesPerSample: frames, silu: true), frames: frames)
        if let timeEmbProj, let temb {
            h = Elementwise.addBroadcast(h, perChannel: timeEmbProj(Elementwise.silu(temb)),
                                         rows: h.shape[0], channels: h.shape[1])
        }
        h = conv2(norm2(h, framesPerSample: frames, silu: true), frames: frames)
        Elementwise.addInPlace(h, x)
        return h
    }
}

/// diffusers' `AlphaBlender`: α·spatial + (1−α)·temporal with α = sigmoid(mix_factor); the VAE decoder's
/// blender has `switch_spatial_to_temporal_mix`, which uses 1 − α instead.
public struct AlphaBlender {
    public let alpha: Float
    public init(_ w: Weights, switchSpatialToTemporal: Bool) throws {
        let m = try w.tensor("mix_factor", shape: [1]).scalar()
        let s = Elementwise.sigmoid(m)
        alpha = switchSpatialToTemporal ? 1 - s : s
    }
    public func callAsFunction(spatial: Tensor, temporal: Tensor) -> Tensor {
        Elementwise.blend(spatial, temporal, alpha: alpha)
    }
}

/// diffusers' `SpatioTemporalResBlock`: a spatial resnet, a temporal resnet on its output, and their blend.
public struct SpatioTemporalResBlock {
    let spatial: ResnetBlock2D
    let temporal: TemporalResnetBlock
    let mixer: AlphaBlender
    let path: String

    public init(_ w: Weights, inChannels: Int, outChannels: Int, eps: Float, temporalEps: Float,
                timeEmbedDim: Int?, switchSpatialToTemporal: Bool) throws {
        spatial = try ResnetBlock2D(w["spatial_res_block"], inChannels: inChannels, outChannels: outChannels,
                                    eps: eps, timeEmbedDim: timeEmbedDim)
        temporal = try TemporalResnetBlock(w["temporal_res_block"], channels: outChannels, eps: temporalEps,
                                           timeEmbedDim: timeEmbedDim)
        mixer = try AlphaBlender(w["time_mixer"], switchSpatialToTemporal: switchSpatialToTemporal)
        path = w.path
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor?, frames: Int) -> Tensor {
        let s = spatial(x, temb: temb)
        ActivationTrace.record(path + ".spatial_res_block", s)
        let r = temporal(s, temb: temb, frames: frames)
        let out = mixer(spatial: s, temporal: r)
        ActivationTrace.record(path, out)
        return out
    }
}
