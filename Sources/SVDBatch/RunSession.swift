import Foundation
import SVDCore

/// The pieces every command that renders into an output folder shares: the reporter for the console, the
/// folder and its run lock, and the closing summary of the manifest entries.
enum RunSession {
    /// ", estimated 12 min 30 s" for the start line, when every job to render has an estimate.
    static func estimateText(_ plan: BatchPlan, _ estimates: PlanEstimates) -> String {
        guard plan.jobs.contains(where: \.decision.renders), estimates.covers(plan) else { return "" }
        return ", estimated \(DurationText.text(estimates.total))"
    }

    /// Progress bars on a terminal, timestamped log lines otherwise.
    static func reporter(_ console: BatchConsole, quiet: Bool) -> BatchReporter {
        console.messagesAreTerminal
            ? TerminalReporter(sink: console.messages, quiet: quiet)
            : LogReporter(sink: console.messages, quiet: quiet)
    }

    /// Creates the output folder and takes its lock; on failure, the message and the exit status (75 when
    /// another run holds the folder, else 2).
    static func lockOutputFolder(_ directory: URL, shard: Shard?) -> Result<RunLock, LockFailure> {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return .success(try RunLock.acquire(directory: directory, shard: shard))
        } catch let error as RunLockError {
            switch error {
            case .held, .overlapping: return .failure(LockFailure(message: "\(error)", status: .locked))
            case .unusable: return .failure(LockFailure(message: "output folder unusable: \(error)", status: .fatal))
            }
        } catch {
            return .failure(LockFailure(message: "\(directory.path): cannot create the output folder: \(error.localizedDescription)",
                                        status: .fatal))
        }
    }

    /// Proves the locked folder takes a new file, a rename and a removal, and opens the manifest, before
    /// anything renders: a folder that refuses them would otherwise waste the whole run. The message on failure.
    static func checkOutputFolder(_ directory: URL, manifest: Manifest?) -> String? {
        do {
            try AtomicFile.probe(folder: directory)
            try manifest?.prepare()
            return nil
        } catch {
            return "output folder unusable: \(directory.path): \(error)"
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

    /// "; manifest PATH" for a closing line, when the run kept one.
    static func manifestText(_ manifest: Manifest?) -> String { manifest.map { "; manifest \($0.file.path)" } ?? "" }

    static func stoppedMessage(signal: Int32, since start: Date, summary: String) -> String {
        "stopped by \(signal == SIGTERM ? "SIGTERM" : "SIGINT") after \(DurationText.text(Date().timeIntervalSince(start))): \(summary.isEmpty ? "nothing finished" : summary); run again to resume"
    }
}
