import Foundation
import SVDCore
import SVDMedia

/// The skeleton `run`, `sweep` and `rerender` share: lock the output folder → plan → estimate → dry run or
/// render → summary. Each command supplies its plan, the lines a dry run adds, and its start line; what happens
/// after the jobs (the sweep's grid, the rerender's verdict) is the command's.
struct PlannedRun {
    /// The folder the run writes into, locked for the run; nil for a run that writes nothing
    /// (`rerender --verify` without `--out`), which takes no lock and keeps no manifest.
    let outputDirectory: URL?
    let shard: Shard?
    let dryRun: Bool
    let environment: [String: String]
    /// How messages name the job list, and what the runner does with frames and files in the way.
    let source: String
    let saveFrames: Bool
    let force: Bool
    let console: BatchConsole
    let reporter: BatchReporter
    let stop: StopFlag
    var framesRendered: FramesHook? = nil

    enum Outcome {
        /// Stopped before rendering: a fatal problem (already reported), or a signal.
        case ended(ExitStatus, BatchPlan?)
        /// A dry run printed its plan.
        case planned(ExitStatus, BatchPlan)
        /// The jobs ran: their manifest lines, in order; `stoppedBy` when a signal ended the run.
        case rendered(BatchPlan, [ManifestEntry], stoppedBy: Int32?, manifest: Manifest?, started: Date)
    }

    /// - Parameters:
    ///   - makePlan: plans under the lock (the existing outputs are read while no other run can write them).
    ///   - dryRunText: what a dry run prints after the plan, with the status it exits with beyond the plan's.
    ///   - startLine: the first info line of a real run, before the estimate.
    func execute(makePlan: () throws -> BatchPlan, dryRunText: (BatchPlan) -> (text: String, blocked: Bool) = { _ in ("", false) },
                 startLine: (BatchPlan) -> String) -> Outcome {
        var lock: RunLock?
        if !dryRun, let outputDirectory {
            switch RunSession.lockOutputFolder(outputDirectory, shard: shard) {
            case let .success(held): lock = held
            case let .failure(failure):
                reporter.error(failure.message)
                return .ended(failure.status, nil)
            }
        }
        defer { lock?.release() }

        let plan: BatchPlan
        do { plan = try makePlan() } catch {
            reporter.error("\(error)")
            return .ended(.fatal, nil)
        }
        for note in plan.notes { reporter.notice(note) }
        let calibration = SpeedCalibration(environment: environment)
        let estimates = PlanEstimates(plan: plan, calibration: calibration, reporter: reporter)

        if dryRun {
            let extra = dryRunText(plan)
            console.output.write(PlanPrinter.text(plan, estimates: estimates) + extra.text)
            let conflict = plan.jobs.contains { if case .conflict = $0.decision { return true } else { return false } }
            return .planned(plan.rejected.isEmpty && !conflict && !extra.blocked ? .success : .jobsFailed, plan)
        }
        if let signal = stop.requested { return .ended(.stopped(by: signal), plan) }

        let manifest = outputDirectory.map { Manifest(directory: $0, shard: shard) }
        if let outputDirectory, let problem = RunSession.checkOutputFolder(outputDirectory, manifest: manifest) {
            reporter.error(problem)
            return .ended(.fatal, plan)
        }
        let started = Date()
        if outputDirectory != nil { BatchRunner.removeStaleTemporaries(plan) }
        reporter.info(startLine(plan) + ": \(PlanPrinter.summary(plan)); \(Parallel.workerCount) engine threads"
            + RunSession.estimateText(plan, estimates))
        let runner = BatchRunner(plan: plan, source: source, saveFrames: saveFrames, force: force, reporter: reporter, stop: stop,
                                 manifest: manifest, estimates: estimates, calibration: calibration, framesRendered: framesRendered)
        do {
            let (entries, stoppedBy) = try runner.run()
            if let signal = stoppedBy {
                reporter.warning(RunSession.stoppedMessage(signal: signal, since: started, summary: RunSession.summary(entries)))
            }
            return .rendered(plan, entries, stoppedBy: stoppedBy, manifest: manifest, started: started)
        } catch {
            reporter.error("\(error)")
            return .ended(.fatal, plan)
        }
    }
}
