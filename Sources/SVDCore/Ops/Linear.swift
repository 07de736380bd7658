/// Fully connected layers and plain matrix products on row-major tensors.
public enum Linear {
    /// Rows per BLAS call: fixed, so the partition (and every result bit) is independent of the worker count.
    public static let rowChunk = 256

    /// y[..., out] = x[..., in] · Wᵀ + b, with W stored (out, in) as in PyTorch.
    public static func apply(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        precondition(x.shape.last == inFeatures, "linear: input \(x.shape) vs weight \(weight.shape)")
        let rows = x.count / inFeatures
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
        let xp = x.data, op = out.data
        Parallel.forChunks(rows, chunk: rowChunk) { r in
            rowsProduct(xp + r.lowerBound * inFeatures, rows: r.count, weight: weight, bias: bias,
                        into: op + r.lowerBound * outFeatures)
        }
        return out
    }

    /// One BLAS call on a block of rows: out[rows, out] = x[rows, in] · Wᵀ + b. Single-threaded; callers
    /// partition rows themselves.
    @inline(__always)
    public static func rowsProduct(_ x: UnsafePointer<Float>, rows: Int, weight: Tensor, bias: Tensor?,
                                   into out: UnsafeMutablePointer<Float>) {
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        if let bias {
            for i in 0..<rows { (out + i * outFeatures).update(from: bias.data, count: outFeatures) }
        }
        BLAS.sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                   b: weight.data, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: out, ldc: outFeatures)
    }
}
