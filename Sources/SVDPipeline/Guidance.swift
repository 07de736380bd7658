import SVDCore

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/pipelines/stable_video_diffusion/pipeline_stable_video_diffusion.py

/// Classifier-free guidance with a per-frame scale, as diffusers' SVD pipeline applies it.
public enum Guidance {
    /// `torch.linspace(min, max, frames)` in float32, as torch's CPU kernel computes it: the first half counts up
    /// from min and the second half down from max, each value one fused multiply-add.
    public static func frameScales(min: Double, max: Double, frames: Int) -> [Float] {
        precondition(frames >= 1, "frames must be at least 1")
        let start = Float(min), end = Float(max)
        guard frames > 1 else { return [start] }
        let step = (end - start) / Float(frames - 1)
        let halfway = frames / 2
        return (0..<frames).map { i in
            i < halfway ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(frames - 1 - i))
        }
    }

    /// n = u + g[f]·(c − u) for tensors laid out [M, F, …], where g[f] scales every value of frame f. Computed
    /// literally: even where g = 1 the result can differ from c by rounding.
    public static func combine(unconditional u: Tensor, conditional c: Tensor, scales: [Float]) -> Tensor {
        precondition(u.shape == c.shape, "unconditional \(u.shape) and conditional \(c.shape) differ")
        precondition(u.rank >= 2 && u.shape[1] == scales.count, "expected [M, \(scales.count), …], got \(u.shape)")
        let frameSize = u.count / max(u.shape[0] * u.shape[1], 1)
        let out = Tensor(uninitialized: u.shape)
        let pu = u.data, pc = c.data, po = out.data
        for row in 0..<u.shape[0] * u.shape[1] {
            let g = scales[row % scales.count]
            for k in row * frameSize..<(row + 1) * frameSize { po[k] = pu[k] + g * (pc[k] - pu[k]) }
        }
        return out
    }
}
