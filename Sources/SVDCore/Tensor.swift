import Foundation

/// Owned, 64-byte-aligned float32 storage, or a view of memory another object owns. Tensors share a buffer when
/// they are reshaped views.
public final class TensorBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// What keeps a view's memory alive; nil when this buffer owns its memory.
    private let owner: AnyObject?

    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "negative tensor size")
        let bytes = max(count, 1) * 4
        let raw = StorageCache.take(bytes) ?? UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        owner = nil
        if zeroed { pointer.initialize(repeating: 0, count: count) }
        TensorMemory.allocated(count * 4)
    }

    /// A view of `count` floats at `pointer`, which `owner` keeps alive (and accounts for in `TensorMemory`).
    public init(viewing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
    }

    deinit {
        guard owner == nil else { return }
        StorageCache.put(UnsafeMutableRawPointer(pointer), bytes: max(count, 1) * 4)
        TensorMemory.released(count * 4)
    }
}

/// Freed tensor storage of 1 MiB and more, kept (up to a bound) for the next tensor of the same size. Fresh
/// large allocations are mmapped and zero-filled by the kernel page by page; a network allocates the same
/// few activation sizes over and over, so reuse saves most of that work.
public enum StorageCache {
    static let minimumBytes = 1 << 20
    /// Most bytes kept idle (memory estimates add it to a job's peak).
    public static let limitBytes = 1024 << 20
    private static let lock = NSLock()
    nonisolated(unsafe) private static var idle: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []
    nonisolated(unsafe) private static var idleBytes = 0

    static func take(_ bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= minimumBytes else { return nil }
        lock.lock(); defer { lock.unlock() }
        guard let i = idle.lastIndex(where: { $0.bytes == bytes }) else { return nil }
        idleBytes -= bytes
        return idle.remove(at: i).pointer
    }

    static func put(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes >= minimumBytes, bytes <= limitBytes / 4 else { return pointer.deallocate() }
        lock.lock()
        idle.append((pointer, bytes))
        idleBytes += bytes
        var evicted: [UnsafeMutableRawPointer] = []
        while idleBytes > limitBytes {  // oldest first
            let old = idle.removeFirst()
            idleBytes -= old.bytes
            evicted.append(old.pointer)
        }
        lock.unlock()
        evicted.forEach { $0.deallocate() }
    }
}

/// Live and peak bytes held by tensors, to check memory estimates against what a render really holds.
public enum TensorMemory {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live = 0
    nonisolated(unsafe) private static var peak = 0

    static func allocated(_ bytes: Int) {
        lock.lock(); live += bytes; peak = max(peak, live); lock.unlock()
    }
    static func released(_ bytes: Int) { lock.lock(); live -= bytes; lock.unlock() }

    public static var liveBytes: Int { lock.lock(); defer { lock.unlock() }; return live }
    public static var peakBytes: Int { lock.lock(); defer { lock.unlock() }; return peak }
    /// Starts a new peak measurement from the current live size.
    public static func resetPeak() { lock.lock(); peak = live; lock.unlock() }
}

/// A dense, row-major float32 tensor. Storage has reference semantics: operations return new tensors, and
/// writing through `data` is visible to every view of the same buffer.
public struct Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let buffer: TensorBuffer

    public var data: UnsafeMutablePointer<Float> { buffer.pointer }
    public var count: Int { buffer.count }
    public var rank: Int { shape.count }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.shape = shape
        buffer = TensorBuffer(count: Tensor.elementCount(shape))
    }

    /// A tensor whose contents the caller will overwrite completely.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        buffer = TensorBuffer(count: Tensor.elementCount(shape), zeroed: false)
    }

    public init(shape: [Int], values: [Float]) {
        precondition(Tensor.elementCount(shape) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    public init(shape: [Int], buffer: TensorBuffer) {
        precondition(Tensor.elementCount(shape) == buffer.count, "shape \(shape) does not match buffer of \(buffer.count)")
        self.shape = shape
        self.buffer = buffer
    }

    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The same storage seen with another shape of equal size.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var shape = newShape
        if let i = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            shape[i] = count / known
        }
        return Tensor(shape: shape, buffer: buffer)
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// One element by flat index. Prefer this to `data[i]` on a temporary tensor, whose buffer may be
    /// released as soon as `data` has been read.
    public func scalar(_ i: Int = 0) -> Float { data[i] }

    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape)
        out.data.update(from: data, count: count)
        return out
    }

    public subscript(flat i: Int) -> Float {
        get { data[i] }
        nonmutating set { data[i] = newValue }
    }

    /// Rows [start, start+length) along the first axis, copied.
    public func slice(first start: Int, _ length: Int) -> Tensor {
        precondition(start >= 0 && start + length <= shape[0], "slice out of range")
        let inner = count / max(shape[0], 1)
        var s = shape
        s[0] = length
        let out = Tensor(uninitialized: s)
        out.data.update(from: data + start * inner, count: length * inner)
        return out
    }

    /// Concatenation along the first axis.
    public static func concat(first parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty)
        let inner = Array(parts[0].shape.dropFirst())
        for p in parts { precondition(Array(p.shape.dropFirst()) == inner, "concat shape mismatch") }
        let out = Tensor(uninitialized: [parts.reduce(0) { $0 + $1.shape[0] }] + inner)
        var offset = 0
        for p in parts {
            (out.data + offset).update(from: p.data, count: p.count)
            offset += p.count
        }
        return out
    }
}
