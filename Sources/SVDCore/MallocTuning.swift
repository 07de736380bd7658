import Foundation

/// Process-wide glibc malloc settings the engine relies on.
public enum MallocTuning {
    private static let mmapThreshold: Void = {
        // A fixed mmap threshold: glibc otherwise raises it after large frees, and freed activations then stay in
        // malloc's arenas, inflating the resident size far beyond the live tensors.
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 20)
    }()

    public static func fixMmapThreshold() { _ = mmapThreshold }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var fillers = 0

    /// Runs `body` with every new allocation filled with a fixed byte (glibc's M_PERTURB). libx264 reads some of
    /// its buffers before writing them; with whatever earlier work left in memory, the H.264 bytes changed from
    /// run to run. Only encoding pays for the fill: it is switched off again afterwards.
    public static func withFilledAllocations<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        if fillers == 0 { _ = glibcMallopt(-6 /* M_PERTURB */, 0xA5) }
        fillers += 1
        lock.unlock()
        defer {
            lock.lock()
            fillers -= 1
            if fillers == 0 { _ = glibcMallopt(-6, 0) }
            lock.unlock()
        }
        return try body()
    }
}

/// glibc's `mallopt` (declared in <malloc.h>, which Swift's Glibc module does not import).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
