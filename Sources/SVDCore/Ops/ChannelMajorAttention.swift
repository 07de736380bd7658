extension Attention {
    /// Self-attention over the spatial positions of NCHW feature maps, read channel-major:
    /// q, k, v [n, heads·d, y, x] → [n, heads·d, y, x], head j owning channels j·d ..< (j+1)·d.
    /// Same math as `scaledDotProduct` on the transposed tokens, without materialising the [n, y·x, C]
    /// copies (the VAE's mid-block attention runs on maps of up to 512 × 72·128 per frame).
    public static func channelMajor(q: Tensor, k: Tensor, v: Tensor, heads: Int) -> Tensor {
        let n = q.shape[0], width = q.shape[1]
        let l = q.count / (n * width)
        precondition(k.shape == q.shape && v.shape == q.shape && width % heads == 0,
                     "channel-major attention: q \(q.shape) k \(k.shape) v \(v.shape) heads \(heads)")
        let d = width / heads
        let scale = 1 / Float(d).squareRoot()
        let blocks = (l + queryBlock - 1) / queryBlock
        let out = Tensor(uninitialized: q.shape)
        let qp = q.data, kp = k.data, vp = v.data, op = out.data
        Parallel.forEach(n * heads * blocks) { task in
            let head = task / blocks  // = b·heads + h: heads are consecutive channel slabs
            let q0 = (task % blocks) * queryBlock
            let rows = min(queryBlock, l - q0)
            ScratchPool.shared.withFloats(rows * l) { scores in
                let offset = head * d * l
                // scores[rows, l] = scale · Q[:, q0..]ᵀ · K, with Q and K stored (d, l).
                BLAS.sgemm(transA: true, m: rows, n: l, k: d, alpha: scale, a: qp + offset + q0, lda: l,
                           b: kp + offset, ldb: l, c: scores, ldc: l)
                for r in 0..<rows { softmaxInPlace(scores + r * l, count: l) }
                // out[:, q0..] (d, rows) = V (d, l) · scoresᵀ.
                BLAS.sgemm(transB: true, m: d, n: rows, k: l, a: vp + offset, lda: l, b: scores, ldb: l,
                           c: op + offset + q0, ldc: l)
            }
        }
        return out
    }
}
