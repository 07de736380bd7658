import Foundation
import SVDCore
import SVDMedia

/// What a run did: its exit status, its plan (when it got that far) and the manifest lines it wrote.
public struct BatchResult: Sendable {
    public let status: ExitStatus
    public let plan: BatchPlan?
    public let entries: [ManifestEntry]
}

/// `svdbatch run`: plan, lock, render, report. Never throws: every problem ends as a message and an exit status.
public enum Batch {
    public static func run(_ options: BatchOptions, console: BatchConsole = .standard,
                           stop: StopFlag = StopFlag()) -> BatchResult {
        let reporter = RunSession.reporter(console, quiet: options.quiet)
        func fatal(_ message: String, _ status: ExitStatus = .fatal, plan: BatchPlan? = nil) -> BatchResult {
            reporter.error(message)
            return BatchResult(status: status, plan: plan, entries: [])
        }
        if let threads = options.threads { Parallel.workerCount = threads }

        let outputDirectory = options.absolute(options.outputDirectory)
        var lock: RunLock?
        if !options.dryRun {
            switch RunSession.lockOutputFolder(outputDirectory, shard: options.shard) {
            case let .success(held): lock = held
            case let .failure(failure): return fatal(failure.message, failure.status)
            }
        }
        defer { lock?.release() }

        let planner = Planner(options: options, resolver: ModelResolver(environment: options.environment, attended: options.attended),
                              catalog: ModelCatalog(variant: options.variant))
        let plan: BatchPlan
        do { plan = try planner.plan() } catch { return fatal("\(error)") }
        for note in plan.notes { reporter.notice(note) }

        let calibration = SpeedCalibration(environment: options.environment)
        let estimates = PlanEstimates(plan: plan, calibration: calibration, reporter: reporter)
        if options.dryRun {
            console.output.write(PlanPrinter.text(plan, estimates: estimates))
            let blocked = plan.jobs.contains { if case .conflict = $0.decision { return true } else { return false } }
            return BatchResult(status: plan.rejected.isEmpty && !blocked ? .success : .jobsFailed, plan: plan, entries: [])
        }
        if let signal = stop.requested { return BatchResult(status: .stopped(by: signal), plan: plan, entries: []) }

        let manifest = Manifest(directory: outputDirectory, shard: options.shard)
        if let problem = RunSession.checkOutputFolder(outputDirectory, manifest: manifest) { return fatal(problem, plan: plan) }
        let start = Date()
        BatchRunner.removeStaleTemporaries(plan)
        let shard = plan.shard.map { " (shard \($0): \(plan.jobs.count) of \(plan.jobs.count + plan.otherShardJobs) valid jobs)" } ?? ""
        reporter.info("svdbatch \(Recipe.toolVersion): \(plan.csvPath) → \(outputDirectory.path)\(shard): \(PlanPrinter.summary(plan)); \(Parallel.workerCount) engine threads\(RunSession.estimateText(plan, estimates))")
        let runner = BatchRunner(plan: plan, options: options, reporter: reporter, stop: stop, manifest: manifest,
                                 estimates: estimates, calibration: calibration)
        let entries: [ManifestEntry]
        let stoppedBy: Int32?
        do { (entries, stoppedBy) = try runner.run() } catch { return fatal("\(error)", plan: plan) }

        let summary = RunSession.summary(entries)
        if let signal = stoppedBy {
            reporter.warning(RunSession.stoppedMessage(signal: signal, since: start, summary: summary))
            return BatchResult(status: .stopped(by: signal), plan: plan, entries: entries)
        }
        reporter.info("done in \(DurationText.text(Date().timeIntervalSince(start))): \(summary.isEmpty ? "no jobs" : summary); manifest \(manifest.file.path)")
        let failed = entries.contains { $0.status.isFailure }
        return BatchResult(status: failed ? .jobsFailed : .success, plan: plan, entries: entries)
    }
}
