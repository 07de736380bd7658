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

/// The process's SIGINT and SIGTERM, trapped from `main`'s first instruction so that no signal is lost while the
/// command starts.
///
/// Until a command starts work that stops cleanly (`observe`), a stop signal ends the process at once with
/// 128 + signal, as the default action would. Afterwards the first one only sets `flag`, so the render stops
/// at the next step boundary (checkpoint kept, temporary files removed), and a second one ends the process
/// at once.
///
/// A SIGINT the process inherits as ignored stays ignored, for the whole run: that is how a shell starts a
/// background job (and `nohup` a command), so that Ctrl-C at the terminal does not reach it. SIGTERM always
/// stops. SIGXFSZ is ignored too, so a file-size limit fails the write (and the job, with a message) instead
/// of killing the process.
public enum ProcessSignals {
    public static let flag = StopFlag()
    private static let state = NSLock()
    nonisolated(unsafe) private static var observer: (@Sendable (Int32) -> Void)?
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    private static let queue = DispatchQueue(label: "svdbatch.signals")

    /// Call first thing in `main`.
    public static func install() {
        signal(SIGXFSZ, SIG_IGN)
        for sig in [SIGINT, SIGTERM] {
            let previous = signal(sig, SIG_IGN)   // delivered to the dispatch source instead
            if sig == SIGINT, inheritedIgnore(previous) { continue }
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { handle(sig) }
            source.resume()
            sources.append(source)
        }
    }

    /// From now on a stop signal sets `flag` (and calls `onFirst` once) instead of ending the process.
    public static func observe(onFirst: @escaping @Sendable (Int32) -> Void) {
        state.withLock { observer = onFirst }
    }

    private static func handle(_ sig: Int32) {
        let onFirst = state.withLock { observer }
        guard let onFirst, flag.requested == nil else { _exit(128 + sig) }
        flag.request(signal: sig)
        onFirst(sig)
    }

    private static func inheritedIgnore(_ previous: __sighandler_t?) -> Bool {
        guard let previous else { return false }
        return unsafeBitCast(previous, to: Int.self) == 1   // SIG_IGN
    }
}
