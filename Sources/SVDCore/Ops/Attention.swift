import CVectorMath
import Foundation

/// Multi-head scaled dot-product attention, softmax(q·kᵀ/√d)·v per head, computed in query blocks so the
/// score buffer is O(block × keys) instead of O(queries × keys) for all heads at once.
public enum Attention {
    static let queryBlock = 256
    /// Up to this many keys, the two products run unpacked (`NarrowProduct`): BLAS's per-call and packing
    /// costs dominate short sequences (temporal attention over the frames, the demo model's spatial levels).
    static let smallKeys = 1024

    /// q [n, Lq, heads·d], k and v [n, Lk, heads·d] → [n, Lq, heads·d] (heads concatenated in channel order).
    public static func scaledDotProduct(q: Tensor, k: Tensor, v: Tensor, heads: Int) -> Tensor {
        let n = q.shape[0], lq = q.shape[1], width = q.shape[2]
        let lk = k.shape[1]
        precondition(k.shape[0] == n && v.shape[0] == n && k.shape[2] == width && v.shape[1] == lk,
                     "attention: q \(q.shape) k \(k.shape) v \(v.shape)")
        let d = width / heads
        let scale = 1 / Float(d).squareRoot()
        let blocks = (lq + queryBlock - 1) / queryBlock
        let out = Tensor(uninitialized: q.shape)
        let qp = q.data, kp = k.data, vp = v.data, op = out.data
        Parallel.forEach(n * heads * blocks) { task in
            let b = task / (heads * blocks), h = (task / blocks) % heads
            let q0 = (task % blocks) * queryBlock
            let rows = min(queryBlock, lq - q0)
            let qBase = qp + (b * lq + q0) * width + h * d
            let kBase = kp + b * lk * width + h * d
            let vBase = vp + b * lk * width + h * d
            let oBase = op + (b * lq + q0) * width + h * d
            // Rows of scores become softmax numerators; the output rows are divided by their sums afterwards
            // (d values per row instead of lk).
            ScratchPool.shared.withFloats(rows * lk + rows + (lk <= smallKeys ? d * lk : 0)) { scores in
                let inverse = scores + rows * lk
                if lk <= smallKeys {
                    let keys = inverse + rows  // scale · Kᵀ [d, lk]
                    for j in 0..<lk { for p in 0..<d { keys[p * lk + j] = kBase[j * width + p] * scale } }
                    NarrowProduct.multiply(m: rows, n: lk, k: d, a: qBase, lda: width, b: keys, ldb: lk, c: scores, ldc: lk)
                } else {
                    BLAS.sgemm(transB: true, m: rows, n: lk, k: d, alpha: scale, a: qBase, lda: width,
                               b: kBase, ldb: width, c: scores, ldc: lk)
                }
                for r in 0..<rows { inverse[r] = 1 / svm_softmax_numerators(scores + r * lk, lk) }
                if lk <= smallKeys {
                    NarrowProduct.multiply(m: rows, n: d, k: lk, a: scores, lda: lk, b: vBase, ldb: width, c: oBase,
                                           ldc: width)
                } else {
                    BLAS.sgemm(m: rows, n: d, k: lk, a: scores, lda: lk, b: vBase, ldb: width, c: oBase, ldc: width)
                }
                for r in 0..<rows {
                    let row = oBase + r * width, factor = inverse[r]
                    for p in 0..<d { row[p] *= factor }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func softmaxInPlace(_ p: UnsafeMutablePointer<Float>, count: Int) { svm_softmax(p, count) }
}
