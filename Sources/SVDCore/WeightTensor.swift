/// Owned, 64-byte-aligned storage of 16-bit floats, as a checkpoint stores them (little-endian bit patterns).
public final class HalfBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<UInt16>
    public let count: Int
    public let format: HalfFormat

    /// Uninitialised storage the caller fills.
    public init(count: Int, format: HalfFormat) {
        precondition(count >= 0, "negative tensor size")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
        pointer = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
        self.count = count
        self.format = format
        TensorMemory.allocated(count * 2)
    }

    deinit {
        UnsafeMutableRawPointer(pointer).deallocate()
        TensorMemory.released(count * 2)
    }
}

/// A layer's weight as its checkpoint stores it: float32, or 16-bit floats kept compact (half the memory) and
/// expanded to float32 only for the duration of one call. The expansion is exact, so results are the same
/// bits whichever way the weight is kept.
public struct WeightTensor: @unchecked Sendable {
    public let shape: [Int]
    private let storage: Storage

    private enum Storage {
        case float32(TensorBuffer)
        case half(HalfBuffer)
        /// No values: the weight of a network built only to describe its structure.
        case shapeOnly
    }

    /// A weight that has a shape and no values, for building a network only to list what it reads; using its
    /// values traps.
    public init(shapeOnly shape: [Int]) {
        self.shape = shape
        storage = .shapeOnly
    }

    public init(_ tensor: Tensor) {
        shape = tensor.shape
        storage = .float32(tensor.buffer)
    }

    public init(shape: [Int], half: HalfBuffer) {
        precondition(Tensor.elementCount(shape) == half.count, "shape \(shape) does not match buffer of \(half.count)")
        self.shape = shape
        storage = .half(half)
    }

    public var count: Int { Tensor.elementCount(shape) }

    /// True when the weight is held as 16-bit floats.
    public var isCompact: Bool {
        if case .half = storage { return true }
        return false
    }

    /// Bytes the weight occupies while the model is loaded.
    public var storedBytes: Int { count * (isCompact ? 2 : 4) }

    /// The same storage seen with another shape of equal size.
    public func reshaped(_ newShape: [Int]) -> WeightTensor {
        switch storage {
        case let .float32(buffer): return WeightTensor(Tensor(shape: newShape, buffer: buffer))
        case let .half(buffer): return WeightTensor(shape: newShape, half: buffer)
        case .shapeOnly: return WeightTensor(shapeOnly: newShape)
        }
    }

    /// Runs `body` with the weight as a float32 tensor: the stored one, or an expansion into a pooled scratch block
    /// (`ExpansionScratch`) that is reused once `body` returns.
    public func withFloat32<R>(_ body: (Tensor) throws -> R) rethrows -> R {
        switch storage {
        case let .float32(buffer):
            return try body(Tensor(shape: shape, buffer: buffer))
        case let .half(buffer):
            return try ExpansionScratch.shared.withTensor(shape) { t in
                Self.expand(buffer, into: t)
                return try body(t)
            }
        case .shapeOnly:
            preconditionFailure("a shape-only weight \(shape) has no values")
        }
    }

    /// A float32 tensor to keep: the stored one, or an owned expansion.
    public func float32() -> Tensor {
        switch storage {
        case let .float32(buffer):
            return Tensor(shape: shape, buffer: buffer)
        case let .half(buffer):
            let out = Tensor(uninitialized: shape)
            Self.expand(buffer, into: out)
            return out
        case .shapeOnly:
            preconditionFailure("a shape-only weight \(shape) has no values")
        }
    }

    private static func expand(_ buffer: HalfBuffer, into out: Tensor) {
        HalfConversion.toFloat32(buffer.pointer, format: buffer.format, into: out.data, count: buffer.count)
    }
}
