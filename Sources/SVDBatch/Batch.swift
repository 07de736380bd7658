import Foundation
import SVDCore
import SVDMedia

/// What a run did: its exit status, its plan (when it got that far) and the manifest lines it wrote.
public struct BatchResult: Sendable {
    public let status: ExitStatus
    public let plan: BatchPlan?
    public let entries: [ManifestEntry]
}

/// `svdbatch run`: plan, lock, render, report (`PlannedRun`). Never throws: every problem ends as a message
/// and an exit status.
public enum Batch {
    public static func run(_ options: BatchOptions, console: BatchConsole = .standard,
                           stop: StopFlag = StopFlag()) -> BatchResult {
        let reporter = options.start(console)
        let outputDirectory = options.absolute(options.outputDirectory)
        let planner = Planner(options: options, resolver: ModelResolver(environment: options.environment, attended: options.attended),
                              catalog: ModelCatalog(variant: options.variant))
        let run = PlannedRun(outputDirectory: outputDirectory, shard: options.shard, dryRun: options.dryRun,
                             environment: options.environment, source: options.csvPath, saveFrames: options.saveFrames,
                             force: options.force, console: console,
                             reporter: reporter, stop: stop)
        switch run.execute(makePlan: planner.plan, startLine: { plan in
            let shard = plan.shard.map { " (shard \($0): \(plan.jobs.count) of \(plan.jobs.count + plan.otherShardJobs) valid jobs)" } ?? ""
            return "svdbatch \(Recipe.toolVersion): \(plan.csvPath) → \(outputDirectory.path)\(shard)"
        }) {
        case let .ended(status, plan):
            return BatchResult(status: status, plan: plan, entries: [])
        case let .planned(status, plan):
            return BatchResult(status: status, plan: plan, entries: [])
        case let .rendered(plan, entries, stoppedBy, manifest, started):
            if let signal = stoppedBy { return BatchResult(status: .stopped(by: signal), plan: plan, entries: entries) }
            let summary = RunSession.summary(entries)
            reporter.info("done in \(DurationText.text(Date().timeIntervalSince(started))): \(summary.isEmpty ? "no jobs" : summary)" + RunSession.manifestText(manifest))
            return BatchResult(status: entries.contains { $0.status.isFailure } ? .jobsFailed : .success, plan: plan,
                               entries: entries)
        }
    }
}
