import COpenBLAS
import Foundation

/// The only door to matrix products. OpenBLAS runs single-threaded (its own threading changes result
/// bits with the thread count); the engine parallelises around it over fixed partitions.
public enum BLAS {
    private static let configured: Bool = {
        openblas_set_num_threads(1)
        MallocTuning.fixMmapThreshold()
        return true
    }()

    public static func ensureConfigured() { _ = configured }

    /// OpenBLAS's kernel family for this CPU (recorded in recipes for diagnosis).
    public static var coreName: String {
        ensureConfigured()
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major.
    @inline(__always)
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        ensureConfigured()
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

