/// GroupNorm and LayerNorm. Statistics are accumulated in Double in a fixed order per group/row.
public enum Normalization {
    /// GroupNorm on a tensor laid out as [samples, frames, C, spatial] (frames = 1 for per-image norms;
    /// frames = F for the temporal blocks, whose statistics span every frame of a video).
    /// `silu` fuses the activation that follows almost every norm.
    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float,
                                 framesPerSample frames: Int = 1, silu: Bool = false) -> Tensor {
        groupNormAffine(x, groups: groups, weight: weight, bias: bias, eps: eps, framesPerSample: frames,
                        silu: silu).apply(x)
    }

    /// The same GroupNorm as one affine map (and activation) per (image, channel), for a consumer that
    /// normalises as it reads (`Convolution.conv2d(_:input:…)`) instead of from a normalised copy.
    public static func groupNormAffine(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float,
                                       framesPerSample frames: Int = 1, silu: Bool = false) -> ChannelAffine {
        let channels = x.shape[1]
        let spatial = x.count / (x.shape[0] * channels)
        let samples = x.shape[0] / frames
        precondition(samples * frames == x.shape[0] && channels % groups == 0, "groupNorm: bad shape \(x.shape)")
        let perGroup = channels / groups
        var scale = [Float](repeating: 0, count: x.shape[0] * channels), shift = scale
        let xp = x.data, wp = weight.data, bp = bias.data
        scale.withUnsafeMutableBufferPointer { sp in shift.withUnsafeMutableBufferPointer { hp in
            let sp = sp.baseAddress!, hp = hp.baseAddress!
            Parallel.forEach(samples * groups) { task in
                let s = task / groups, g = task % groups
                let span = perGroup * spatial  // the group's channels are contiguous within each frame
                var sum = 0.0
                for f in 0..<frames { sum += Statistics.sum(xp + ((s * frames + f) * channels + g * perGroup) * spatial, count: span) }
                let n = Double(frames * span)
                let mean = sum / n
                var sq = 0.0
                for f in 0..<frames {
                    sq += Statistics.squaredDeviations(xp + ((s * frames + f) * channels + g * perGroup) * spatial,
                                                       count: span, mean: mean)
                }
                let invStd = Float(1 / (sq / n + Double(eps)).squareRoot())
                let meanF = Float(mean)
                for f in 0..<frames {
                    for c in (g * perGroup)..<((g + 1) * perGroup) {
                        let row = (s * frames + f) * channels + c
                        sp[row] = wp[c] * invStd
                        hp[row] = bp[c] - meanF * sp[row]
                    }
                }
            }
        } }
        withExtendedLifetime(x) {}
        return ChannelAffine(scale: scale, shift: shift, silu: silu)
    }

    /// LayerNorm over the last axis.
    public static func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
        let d = x.shape.last!
        let rows = x.count / d
        let out = Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data, wp = weight.data, bp = bias.data
        Parallel.forChunks(rows, chunk: 64) { r in
            for row in r {
                let p = xp + row * d, o = op + row * d
                let mean = Statistics.sum(p, count: d) / Double(d)
                let sq = Statistics.squaredDeviations(p, count: d, mean: mean)
                let invStd = Float(1 / (sq / Double(d) + Double(eps)).squareRoot())
                let m = Float(mean)
                for i in 0..<d { o[i] = (p[i] - m) * invStd * wp[i] + bp[i] }
            }
        }
        return out
    }
}

/// y = x · scale + shift (then SiLU if `silu`) with one scale and shift per (image, channel) plane of an
/// [N, C, spatial…] tensor: a GroupNorm reduced to what its consumers apply.
public struct ChannelAffine {
    public let scale: [Float]
    public let shift: [Float]
    public let silu: Bool

    /// Plane `plane` (= image · C + channel), elements `count` from `src`, into `dst`.
    @inline(__always)
    public func apply(plane: Int, _ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        Elementwise.affine(src, into: dst, count: count, scale: scale[plane], shift: shift[plane], silu: silu)
    }

    /// The normalised tensor.
    public func apply(_ x: Tensor) -> Tensor {
        let planes = scale.count, spatial = x.count / planes
        let out = Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data
        Parallel.forEach(planes) { plane in
            apply(plane: plane, xp + plane * spatial, into: op + plane * spatial, count: spatial)
        }
        withExtendedLifetime(x) {}
        return out
    }
}

/// Sums in double precision over 8 lanes, in a fixed order (so the bits never depend on threads), vectorised.
enum Statistics {
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, count: Int) -> Double {
        var acc = SIMD8<Double>()
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 8 <= count {
            acc += SIMD8<Double>(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
            i += 8
        }
        var total = acc.sum()
        while i < count { total += Double(p[i]); i += 1 }
        return total
    }

    @inline(__always)
    static func squaredDeviations(_ p: UnsafePointer<Float>, count: Int, mean: Double) -> Double {
        var acc = SIMD8<Double>()
        let m = SIMD8<Double>(repeating: mean)
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 8 <= count {
            let d = SIMD8<Double>(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)) - m
            acc += d * d
            i += 8
        }
        var total = acc.sum()
        while i < count { let d = Double(p[i]) - mean; total += d * d; i += 1 }
        return total
    }
}
