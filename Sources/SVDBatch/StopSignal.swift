import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A request to stop at the next denoising-step boundary, with the signal that asked for it.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var signal: Int32?

    public init() {}

    public func request(signal: Int32) {
        lock.withLock { if self.signal == nil { self.signal = signal } }
    }

    /// The signal that asked to stop, or nil.
    public var requested: Int32? { lock.withLock { signal } }
}

/// Turns SIGINT and SIGTERM into a `StopFlag` request, so the render stops cleanly at the next step boundary
/// (checkpoint kept, temporary files removed). A second signal ends the process at once.
public final class SignalTrap {
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "svdbatch.signals")

    public init(flag: StopFlag, onFirst: @escaping @Sendable (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)   // delivered to the dispatch source instead
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler {
                if flag.requested != nil { _exit(128 + sig) }
                flag.request(signal: sig)
                onFirst(sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
