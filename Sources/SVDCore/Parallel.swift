import Dispatch
import Foundation

/// Deterministic parallel loops. Work is split into index ranges chosen by the caller, never by the
/// worker count, and each index writes only its own outputs; so results are bit-identical for any
/// number of workers.
public enum Parallel {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var _workers = ProcessInfo.processInfo.activeProcessorCount

    /// Number of engine worker threads (the CLI's `--threads`). Never changes a result bit.
    public static var workerCount: Int {
        get { lock.lock(); defer { lock.unlock() }; return _workers }
        set { lock.lock(); _workers = max(1, newValue); lock.unlock() }
    }

    /// Tasks a parallel operation splits its work into. Fixed, not the worker count: partitions follow the
    /// shapes only, so results do not depend on the number of threads.
    public static let targetTasks = 8

    /// Runs `body(i)` for every i in 0..<count, on up to `workerCount` threads.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        BLAS.ensureConfigured()
        let workers = min(workerCount, count)
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        let next = IndexCounter()
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while let i = next.take(below: count) { body(i) }
            }
        }
    }

    /// Runs `body(range)` over fixed-size chunks of 0..<count.
    public static func forChunks(_ count: Int, chunk: Int, _ body: (Range<Int>) -> Void) {
        let chunk = max(chunk, 1)
        let n = (count + chunk - 1) / chunk
        forEach(n) { c in body(c * chunk..<min(count, (c + 1) * chunk)) }
    }
}

private final class IndexCounter: @unchecked Sendable {
    private var value = 0
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func take(below limit: Int) -> Int? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}
