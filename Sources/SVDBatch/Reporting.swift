import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Somewhere text goes: the terminal, a pipe, or a buffer in tests.
public protocol TextSink: AnyObject, Sendable {
    func write(_ text: String)
}

public final class FileDescriptorSink: TextSink, @unchecked Sendable {
    let fd: Int32
    private let lock = NSLock()
    public init(fd: Int32) { self.fd = fd }
    public static let standardOutput = FileDescriptorSink(fd: STDOUT_FILENO)
    public static let standardError = FileDescriptorSink(fd: STDERR_FILENO)
    public var isTerminal: Bool { isatty(fd) == 1 }

    public func write(_ text: String) {
        lock.withLock {
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n < 0 { if errno == EINTR { continue } else { return } }
                bytes = bytes.dropFirst(n)
            }
        }
    }
}

/// Collects text in memory (tests).
public final class BufferSink: TextSink, @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""
    public init() {}
    public func write(_ text: String) { lock.withLock { buffer += text } }
    public var text: String { lock.withLock { buffer } }
}

/// Where a run's output goes. The plan (`--dry-run`) goes to `output`; events, progress and errors to
/// `messages`, as progress bars when that is a terminal, else as timestamped log lines.
public struct BatchConsole: Sendable {
    public var output: TextSink
    public var messages: TextSink
    public var messagesAreTerminal: Bool

    public init(output: TextSink, messages: TextSink, messagesAreTerminal: Bool) {
        self.output = output
        self.messages = messages
        self.messagesAreTerminal = messagesAreTerminal
    }

    public static var standard: BatchConsole {
        BatchConsole(output: FileDescriptorSink.standardOutput, messages: FileDescriptorSink.standardError,
                     messagesAreTerminal: FileDescriptorSink.standardError.isTerminal)
    }
}

/// Progress of the whole batch, measured in estimated seconds (`WorkMeter`) so that one ETA covers jobs of
/// different sizes.
public struct BatchProgress: Sendable {
    public var jobsDone: Int
    public var jobsTotal: Int
    public var fraction: Double
    /// Seconds left, once there is a measurement.
    public var eta: Double?
}

/// One denoising step finished.
public struct StepReport: Sendable {
    public var name: String
    public var step: Int
    public var totalSteps: Int
    public var stepSeconds: Double
    public var jobETA: Double?
    public var batch: BatchProgress
}

/// What the runner tells people while it works.
public protocol BatchReporter: AnyObject {
    func log(_ level: Logger.Level, _ message: String)
    func jobStarted(name: String, index: Int, count: Int, firstStep: Int, totalSteps: Int, batch: BatchProgress)
    func stepFinished(_ report: StepReport)
    func jobEnded()
}

extension BatchReporter {
    func info(_ message: String) { log(.info, message) }
    func notice(_ message: String) { log(.notice, message) }
    func warning(_ message: String) { log(.warning, message) }
    func error(_ message: String) { log(.error, message) }
}

/// Human-friendly durations: 45 s, 3 min 05 s, 2 h 07 min.
enum DurationText {
    static func text(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return seconds < 10 ? String(format: "%.1f s", seconds) : "\(s) s" }
        if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
    }
}
