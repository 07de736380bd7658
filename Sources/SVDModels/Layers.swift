import Foundation
import SVDCore

/// Linear(in → out), weight stored (out, in). Large weights stay as stored and are expanded per call
/// (`WeightTensor`); biases and norm parameters are small and expanded at load.
public struct LinearLayer {
    public let weight: WeightTensor
    public let bias: Tensor?
    public init(_ w: Weights, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) throws {
        weight = try w.weight("weight", shape: [outFeatures, inFeatures])
        bias = hasBias ? try w.tensor("bias", shape: [outFeatures]) : nil
    }
    public var outFeatures: Int { weight.shape[0] }
    public func callAsFunction(_ x: Tensor) -> Tensor {
        weight.withFloat32 { Linear.apply(x, weight: $0, bias: bias) }
    }
}

public struct Conv2dLayer {
    public let weight: WeightTensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Padding2D
    /// A square `kernel` × `kernel` convolution from `in` to `out` channels.
    public init(_ w: Weights, in inChannels: Int, out outChannels: Int, kernel: Int, stride: Int = 1, padding: Padding2D,
                bias hasBias: Bool = true) throws {
        weight = try w.weight("weight", shape: [outChannels, inChannels, kernel, kernel])
        bias = hasBias ? try w.tensor("bias", shape: [outChannels]) : nil
        self.stride = stride
        self.padding = padding
    }
    public func callAsFunction(_ x: Tensor) -> Tensor {
        weight.withFloat32 { Convolution.conv2d(x, weight: $0, bias: bias, stride: stride, padding: padding) }
    }
    /// The convolution of input(x), normalising as it reads where it can.
    public func callAsFunction(_ x: Tensor, input: ChannelAffine) -> Tensor {
        weight.withFloat32 {
            Convolution.conv2d(x, weight: $0, bias: bias, stride: stride, padding: padding, input: input)
        }
    }
}

/// Conv3d with kernel (3, 1, 1), padding (1, 0, 0), on the frame-flattened layout.
public struct TemporalConvLayer {
    public let weight: WeightTensor
    public let bias: Tensor
    public init(_ w: Weights, channels: Int) throws {
        weight = try w.weight("weight", shape: [channels, channels, 3, 1, 1])
        bias = try w.tensor("bias", shape: [channels])
    }
    public func callAsFunction(_ x: Tensor, frames: Int) -> Tensor {
        weight.withFloat32 { Convolution.temporalConv3(x, weight: $0, bias: bias, frames: frames) }
    }
}

public struct GroupNormLayer {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let eps: Float
    public init(_ w: Weights, channels: Int, groups: Int = 32, eps: Float) throws {
        weight = try w.tensor("weight", shape: [channels])
        bias = try w.tensor("bias", shape: [channels])
        self.groups = groups
        self.eps = eps
    }
    public func callAsFunction(_ x: Tensor, framesPerSample: Int = 1, silu: Bool = false) -> Tensor {
        Normalization.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps,
                                framesPerSample: framesPerSample, silu: silu)
    }
    /// The per-image norm as an affine map per (image, channel), for a convolution to apply as it reads.
    public func affine(_ x: Tensor, silu: Bool) -> ChannelAffine {
        Normalization.groupNormAffine(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu)
    }
}

public struct LayerNormLayer {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float
    public init(_ w: Weights, channels: Int, eps: Float = 1e-5) throws {
        weight = try w.tensor("weight", shape: [channels])
        bias = try w.tensor("bias", shape: [channels])
        self.eps = eps
    }
    public func callAsFunction(_ x: Tensor) -> Tensor {
        Normalization.layerNorm(x, weight: weight, bias: bias, eps: eps)
    }
}

/// diffusers' `Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0)`: [cos | sin] of fl32(t·freq_j),
/// all in float32 as torch computes it.
public enum SinusoidalEmbedding {
    public static func embed(_ values: [Float], dim: Int) -> Tensor {
        let half = dim / 2
        let lnMaxPeriod = Float(-log(10000.0))
        let freqs = (0..<half).map { j in expf(lnMaxPeriod * Float(j) / Float(half)) }
        let out = Tensor(uninitialized: [values.count, dim])
        for (r, t) in values.enumerated() {
            for j in 0..<half {
                let arg = t * freqs[j]
                out.data[r * dim + j] = cosf(arg)
                out.data[r * dim + half + j] = sinf(arg)
            }
        }
        return out
    }
}

/// Linear → SiLU → Linear (diffusers' `TimestepEmbedding`).
public struct TimestepEmbedding {
    public let linear1: LinearLayer
    public let linear2: LinearLayer
    public init(_ w: Weights, in inFeatures: Int, hidden: Int, out outFeatures: Int) throws {
        linear1 = try LinearLayer(w["linear_1"], in: inFeatures, out: hidden)
        linear2 = try LinearLayer(w["linear_2"], in: hidden, out: outFeatures)
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { linear2(Elementwise.silu(linear1(x))) }
}

/// GEGLU feed-forward: value half · GELU(gate half), then the output Linear. With many rows it runs fused over
/// blocks of rows, so the 8·C-wide projection never exists for all tokens at once (it would be the largest
/// tensor of the UNet at full resolution); with few rows, as two partitioned products.
public struct GEGLUFeedForward {
    public let projIn: LinearLayer
    public let projOut: LinearLayer
    /// diffusers' FeedForward(dim, "geglu"): C → 2 × inner (value and gate halves) → C; inner is 4C in SVD.
    public init(_ w: Weights, channels: Int, inner: Int? = nil) throws {
        let inner = inner ?? 4 * channels
        projIn = try LinearLayer(w["net.0.proj"], in: channels, out: 2 * inner)
        projOut = try LinearLayer(w["net.2"], in: inner, out: channels)
    }

    /// Rows per fused block: about 1/8 of the rows (each block packs both weights once), at least 256, and at
    /// most 64 MiB of scratch per block.
    static func rowChunk(rows: Int, inner: Int) -> Int {
        min(max(64, (1 << 24) / (3 * inner)), max(Linear.rowChunk, (rows + 7) / 8))
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let d = projIn.weight.shape[1], inner = projIn.outFeatures / 2, outFeatures = projOut.outFeatures
        let rows = x.count / d
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
        let xp = x.data, op = out.data
        let chunk = Self.rowChunk(rows: rows, inner: inner)
        projIn.weight.withFloat32 { weightIn in projOut.weight.withFloat32 { weightOut in
            if rows >= Parallel.targetTasks * chunk {
                Parallel.forChunks(rows, chunk: chunk) { r in
                    let n = r.count
                    ScratchPool.shared.withFloats(n * 3 * inner) { p in
                        let h = p + n * 2 * inner
                        Linear.rowsProduct(xp + r.lowerBound * d, rows: n, weight: weightIn, bias: projIn.bias, into: p)
                        gate(p, rows: 0..<n, inner: inner, into: h)
                        Linear.rowsProduct(h, rows: n, weight: weightOut, bias: projOut.bias,
                                           into: op + r.lowerBound * outFeatures)
                    }
                }
            } else {
                ScratchPool.shared.withFloats(rows * 3 * inner) { p in
                    let h = p + rows * 2 * inner
                    Linear.product(xp, rows: rows, weight: weightIn, bias: projIn.bias, into: p)
                    Parallel.forChunks(rows, chunk: 64) { r in gate(p, rows: r, inner: inner, into: h) }
                    Linear.product(h, rows: rows, weight: weightOut, bias: projOut.bias, into: op)
                }
            }
        } }
        return out
    }

    private func gate(_ p: UnsafeMutablePointer<Float>, rows: Range<Int>, inner: Int, into h: UnsafeMutablePointer<Float>) {
        for row in rows {
            let src = p + row * 2 * inner
            Elementwise.geluGate(value: src, gate: src + inner, into: h + row * inner, count: inner)
        }
    }
}

/// Multi-head attention with diffusers' `to_q/to_k/to_v/to_out.0` projections.
public struct AttentionLayer {
    public let toQ, toK, toV, toOut: LinearLayer
    public let heads: Int
    /// Queries from `channels`-wide tokens, keys and values from `context`-wide ones (= channels for self-attention).
    public init(_ w: Weights, channels: Int, context: Int, heads: Int, qkvBias: Bool) throws {
        toQ = try LinearLayer(w["to_q"], in: channels, out: channels, bias: qkvBias)
        toK = try LinearLayer(w["to_k"], in: context, out: channels, bias: qkvBias)
        toV = try LinearLayer(w["to_v"], in: context, out: channels, bias: qkvBias)
        toOut = try LinearLayer(w["to_out.0"], in: channels, out: channels)
        self.heads = heads
    }

    /// Self-attention over x [n, L, C].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        toOut(Attention.scaledDotProduct(q: toQ(x), k: toK(x), v: toV(x), heads: heads))
    }

    /// Cross-attention over a context of exactly one token per sample: softmax over one key is exactly 1, so
    /// every query's output is to_out(to_v(ctx)), whatever the query.
    /// context [n, 1, D] → [n, 1, C], one row to broadcast over that sample's queries.
    public func singleTokenOutput(context: Tensor) -> Tensor { toOut(toV(context)) }
}
