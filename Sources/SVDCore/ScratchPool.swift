import Foundation

/// Reusable 64-byte-aligned scratch buffers for per-task panels (im2col, feed-forward row blocks, attention
/// scores). Large fresh allocations are mmapped and fault in page by page; at full resolution that cost
/// rivals the arithmetic, so buffers are kept and handed out again. Contents are never assumed.
public final class ScratchPool: @unchecked Sendable {
    public static let shared = ScratchPool(keep: 8, idleLimitBytes: 1024 << 20)

    private let lock = NSLock()
    private var idle: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []
    private let keep: Int
    /// Most bytes kept idle between uses (memory estimates add it to a job's peak).
    public let idleLimitBytes: Int

    init(keep: Int, idleLimitBytes: Int) {
        self.keep = keep
        self.idleLimitBytes = idleLimitBytes
    }

    /// Runs `body` with a buffer of at least `count` floats, returned to the pool afterwards.
    public func withFloats<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let bytes = max(count, 1) * 4
        let raw = take(bytes)
        defer { give(raw) }
        return try body(raw.pointer.bindMemory(to: Float.self, capacity: max(count, 1)))
    }

    private func take(_ bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int) {
        lock.lock()
        // The smallest idle buffer that fits, so large buffers stay available for large requests.
        let fit = idle.indices.filter { idle[$0].bytes >= bytes }.min { idle[$0].bytes < idle[$1].bytes }
        if let fit {
            let buffer = idle.remove(at: fit)
            lock.unlock()
            return buffer
        }
        lock.unlock()
        return (UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64), bytes)
    }

    private func give(_ buffer: (pointer: UnsafeMutableRawPointer, bytes: Int)) {
        lock.lock()
        idle.append(buffer)
        var evicted: [UnsafeMutableRawPointer] = []
        while idle.count > keep || idle.reduce(0, { $0 + $1.bytes }) > idleLimitBytes {
            let smallest = idle.indices.min { idle[$0].bytes < idle[$1].bytes }!
            evicted.append(idle.remove(at: smallest).pointer)
        }
        lock.unlock()
        evicted.forEach { $0.deallocate() }
    }
}
