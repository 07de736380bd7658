import CVectorMath
import Foundation

/// Pointwise operations. Each is a pure function of its inputs element by element, so any partition gives
/// the same bits.
public enum Elementwise {
    static let chunk = 1 << 16

    /// out[i] = f(a[i]).
    public static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        let ap = a.data, op = out.data
        Parallel.forChunks(a.count, chunk: chunk) { r in for i in r { op[i] = f(ap[i]) } }
        return out
    }

    /// out[i] = f(a[i], b[i]).
    public static func zip(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.count == b.count, "elementwise: \(a.shape) vs \(b.shape)")
        let out = Tensor(uninitialized: a.shape)
        let ap = a.data, bp = b.data, op = out.data
        Parallel.forChunks(a.count, chunk: chunk) { r in for i in r { op[i] = f(ap[i], bp[i]) } }
        return out
    }

    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor { zip(a, b, +) }

    /// a += b in place.
    public static func addInPlace(_ a: Tensor, _ b: Tensor) {
        precondition(a.count == b.count, "add: \(a.shape) vs \(b.shape)")
        let ap = a.data, bp = b.data
        Parallel.forChunks(a.count, chunk: chunk) { r in for i in r { ap[i] += bp[i] } }
    }

    /// x + y where y has shape [rows, C] broadcast over the trailing `inner` elements of each (row, c):
    /// x viewed as [rows, C, inner]. Used for per-sample time-embedding biases on NCHW tensors.
    public static func addBroadcast(_ x: Tensor, perChannel y: Tensor, rows: Int, channels: Int) -> Tensor {
        let inner = x.count / (rows * channels)
        precondition(y.count == rows * channels, "broadcast: \(y.shape) vs rows \(rows) channels \(channels)")
        let out = Tensor(uninitialized: x.shape)
        let xp = x.data, yp = y.data, op = out.data
        Parallel.forEach(rows) { n in
            for c in 0..<channels {
                let v = yp[n * channels + c]
                let base = (n * channels + c) * inner
                for i in 0..<inner { op[base + i] = xp[base + i] + v }
            }
        }
        return out
    }

    /// α·a + (1−α)·b computed as torch does: `alpha * a + (1.0 - alpha) * b` in float32.
    public static func blend(_ a: Tensor, _ b: Tensor, alpha: Float) -> Tensor {
        let beta: Float = 1 - alpha
        return zip(a, b) { x, y in alpha * x + beta * y }
    }

    @inline(__always) public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    public static func silu(_ x: Tensor) -> Tensor { vectorMap(x, svm_silu) }
    /// Exact (erf) GELU.
    public static func gelu(_ x: Tensor) -> Tensor { vectorMap(x, svm_gelu) }

    /// out[i] = x[i]·scale + shift, optionally followed by SiLU: the normalisation step of GroupNorm.
    @inline(__always)
    public static func affine(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int,
                              scale: Float, shift: Float, silu: Bool) {
        if silu { svm_affine_silu(x, out, count, scale, shift) } else { svm_affine(x, out, count, scale, shift) }
    }

    /// out[i] = value[i] · GELU(gate[i]) for i < count: the GEGLU feed-forward's gate.
    @inline(__always)
    public static func geluGate(value: UnsafePointer<Float>, gate: UnsafePointer<Float>,
                                into out: UnsafeMutablePointer<Float>, count: Int) {
        svm_gelu_gate(value, gate, out, count)
    }

    /// Applies a CVectorMath kernel over fixed blocks of a tensor.
    static func vectorMap(_ x: Tensor, _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data
        Parallel.forChunks(x.count, chunk: 1 << 16) { r in kernel(xp + r.lowerBound, op + r.lowerBound, r.count) }
        withExtendedLifetime(x) {}
        return out
    }
}
