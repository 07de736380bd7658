import ArgumentParser
import Foundation
import SVDBatch

/// The options every rendering command (`run`, `sweep`, `rerender`) takes alike. `--out`, `--model`,
/// `--format` and `--force` are each command's own: their defaults and what they cover differ.
struct RenderingOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Engine worker threads (default: the machine's cores, \(ProcessInfo.processInfo.activeProcessorCount) here). Never changes a result bit, and leaves the encoder's fixed thread count alone. Example: --threads 4",
        valueName: "N"))
    var threads: Int?

    @Flag(help: "Print errors (and the command's results) only: no progress, no event lines.")
    var quiet = false

    @Flag(help: "Print the plan and render nothing: every job with its output, what would happen to it (render, resume, skip as up to date, replace, conflict; a sweep's grid too) and its estimated time on this machine. Exits 1 if a row is invalid or a job would meet a conflict.")
    var dryRun = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads \(threads): need at least 1") }
    }

    /// These options, `force`, and whether someone is at the terminal, as the commands' shared settings.
    func settings(force: Bool) -> RunSettings {
        var settings = RunSettings()
        settings.threads = threads
        settings.quiet = quiet
        settings.dryRun = dryRun
        settings.force = force
        settings.attended = Console.attended
        return settings
    }

    /// Runs a rendering command: SIGINT/SIGTERM stop it at the next step boundary (`stopping` says what is
    /// kept), and its exit status becomes the process's.
    static func execute(stopping: String, _ body: (StopFlag) -> ExitStatus) throws {
        ProcessSignals.observe { signal in
            Console.notice("\(signal == SIGTERM ? "SIGTERM" : "SIGINT"): stopping after the current denoising step\(stopping) (signal again to quit at once)")
        }
        let status = body(ProcessSignals.flag)
        if status != .success { throw ExitCode(status.rawValue) }
    }
}
