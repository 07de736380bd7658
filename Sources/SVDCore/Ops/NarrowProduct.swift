import CVectorMath

/// Matrix products of layers narrower than `depthLimit` inputs (the demo model's 32–64 channels, its Linear
/// layers, short attention): `svm_small_gemm` multiplies them unpacked, where BLAS's packing and per-call costs
/// outweigh its faster kernel. Each result element is one fused multiply-add chain over the depth in order, so
/// results do not depend on how callers block rows or columns.
enum NarrowProduct {
    static let depthLimit = 128

    static func applies(depth: Int) -> Bool { depth < depthLimit }

    /// c[m × n] = a[m × k] · b[k × n], row-major with leading dimensions lda, ldb, ldc.
    @inline(__always)
    static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        svm_small_gemm(a, lda, b, ldb, c, ldc, m, n, k)
    }
}
