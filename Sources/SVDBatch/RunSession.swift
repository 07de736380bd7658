import Foundation
import SVDCore

/// The pieces every command that renders into an output folder shares: the reporter for the console, the
/// folder and its run lock, and the closing summary of the manifest entries.
enum RunSession {
    /// Progress bars on a terminal, timestamped log lines otherwise.
    static func reporter(_ console: BatchConsole, quiet: Bool) -> BatchReporter {
        console.messagesAreTerminal
            ? TerminalReporter(sink: console.messages, quiet: quiet)
            : LogReporter(sink: console.messages, quiet: quiet)
    }

    /// Creates the output folder and takes its lock; on failure, the message and the exit status (75 when
    /// another run holds the lock).
    static func lockOutputFolder(_ directory: URL, shard: Shard?) -> Result<RunLock, LockFailure> {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return .success(try RunLock.acquire(directory: directory, shard: shard))
        } catch let error as RunLockError {
            if case .held = error { return .failure(LockFailure(message: "\(error)", status: .locked)) }
            return .failure(LockFailure(message: "\(error)", status: .fatal))
        } catch {
            return .failure(LockFailure(message: "\(directory.path): cannot create the output folder: \(error.localizedDescription)",
                                        status: .fatal))
        }
    }

    struct LockFailure: Error {
        let message: String
        let status: ExitStatus
    }

    /// "2 rendered, 1 up-to-date", in a fixed order of statuses.
    static func summary(_ entries: [ManifestEntry]) -> String {
        let counts = Dictionary(grouping: entries, by: \.status).mapValues(\.count)
        return [JobStatus.rendered, .resumed, .upToDate, .conflict, .failed, .interrupted]
            .compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }.joined(separator: ", ")
    }

    static func stoppedMessage(signal: Int32, since start: Date, summary: String) -> String {
        "stopped by \(signal == SIGTERM ? "SIGTERM" : "SIGINT") after \(DurationText.text(Date().timeIntervalSince(start))): \(summary.isEmpty ? "nothing finished" : summary); run again to resume"
    }
}
