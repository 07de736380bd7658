/// GroupNorm and LayerNorm. Statistics are accumulated in Double in a fixed order per group/row.
public enum Normalization {
    /// GroupNorm on a tensor laid out as [samples, frames, C, spatial] (frames = 1 for per-image norms;
    /// frames = F for the temporal blocks, whose statistics span every frame of a video).
    /// `silu` fuses the activation that follows almost every norm.
    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float,
                                 framesPerSample frames: Int = 1, silu: Bool = false) -> Tensor {
        let channels = x.shape[1]
        let spatial = x.count / (x.shape[0] * channels)
        let samples = x.shape[0] / frames
        precondition(samples * frames == x.shape[0] && channels % groups == 0, "groupNorm: bad shape \(x.shape)")
        let perGroup = channels / groups
        let out = Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data, wp = weight.data, bp = bias.data
        Parallel.forEach(samples * groups) { task in
            let s = task / groups, g = task % groups
            var sum = 0.0
            for f in 0..<frames {
                let base = ((s * frames + f) * channels + g * perGroup) * spatial
                for i in 0..<(perGroup * spatial) { sum += Double(xp[base + i]) }
            }
            let n = Double(frames * perGroup * spatial)
            let mean = sum / n
            var sq = 0.0
            for f in 0..<frames {
                let base = ((s * frames + f) * channels + g * perGroup) * spatial
                for i in 0..<(perGroup * spatial) { let d = Double(xp[base + i]) - mean; sq += d * d }
            }
            let invStd = Float(1 / (sq / n + Double(eps)).squareRoot())
            let meanF = Float(mean)
            for f in 0..<frames {
                for c in (g * perGroup)..<((g + 1) * perGroup) {
                    let scale = wp[c] * invStd, shift = bp[c] - meanF * scale
                    let base = ((s * frames + f) * channels + c) * spatial
                    if silu {
                        for i in 0..<spatial { op[base + i] = Elementwise.silu(xp[base + i] * scale + shift) }
                    } else {
                        for i in 0..<spatial { op[base + i] = xp[base + i] * scale + shift }
                    }
                }
            }
        }
        return out
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
                var sum = 0.0
                for i in 0..<d { sum += Double(p[i]) }
                let mean = sum / Double(d)
                var sq = 0.0
                for i in 0..<d { let v = Double(p[i]) - mean; sq += v * v }
                let invStd = Float(1 / (sq / Double(d) + Double(eps)).squareRoot())
                let m = Float(mean)
                for i in 0..<d { o[i] = (p[i] - m) * invStd * wp[i] + bp[i] }
            }
        }
        return out
    }
}
