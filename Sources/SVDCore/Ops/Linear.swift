/// Fully connected layers and plain matrix products on row-major tensors.
public enum Linear {
    /// Rows per BLAS call: fixed, so the partition (and every result bit) is independent of the worker count.
    static let rowChunk = 256

    /// y[..., out] = x[..., in] · Wᵀ + b, with W stored (out, in) as in PyTorch.
    public static func apply(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        precondition(x.shape.last == inFeatures, "linear: input \(x.shape) vs weight \(weight.shape)")
        let rows = x.count / inFeatures
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
        let xp = x.data, wp = weight.data, op = out.data
        Parallel.forChunks(rows, chunk: rowChunk) { r in
            let o = op + r.lowerBound * outFeatures
            if let bias {
                for i in 0..<r.count { (o + i * outFeatures).update(from: bias.data, count: outFeatures) }
            }
            BLAS.sgemm(transB: true, m: r.count, n: outFeatures, k: inFeatures,
                       a: xp + r.lowerBound * inFeatures, lda: inFeatures, b: wp, ldb: inFeatures,
                       beta: bias == nil ? 0 : 1, c: o, ldc: outFeatures)
        }
        return out
    }
}
