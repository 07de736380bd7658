import CHalf

/// The 16-bit float formats a checkpoint can store weights in.
public enum HalfFormat: Sendable, Equatable {
    case float16, bfloat16
}

/// Exact 16-bit float → float32 expansion (F16C when the CPU has it), split over the engine's workers for
/// large tensors. Chunks are fixed, and each element's result is independent of the others anyway.
public enum HalfConversion {
    /// Elements per task: 256 KiB of float32 output, large enough to amortise a task, small enough to balance.
    static let chunk = 1 << 16

    /// `source` holds `count` little-endian 16-bit values and need not be aligned.
    public static func toFloat32(_ source: UnsafeRawPointer, format: HalfFormat, into out: UnsafeMutablePointer<Float>,
                                 count: Int) {
        Parallel.forChunks(count, chunk: chunk) { r in
            let src = source + 2 * r.lowerBound, dst = out + r.lowerBound
            switch format {
            case .float16: chalf_f16_to_f32(src, dst, r.count)
            case .bfloat16: chalf_bf16_to_f32(src, dst, r.count)
            }
        }
    }

    /// The portable float16 path, single-threaded; bit-identical to `toFloat32` (tests compare them).
    public static func float16ToFloat32Portable(_ source: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>,
                                                count: Int) {
        chalf_f16_to_f32_scalar(source, out, count)
    }

    /// Whether `toFloat32` uses the F16C instructions on this CPU.
    public static var usesF16C: Bool { chalf_uses_f16c() != 0 }
}
