import Foundation
import SVDCore
import SVDMedia

/// What a sweep did: its exit status, its plan and manifest lines (as a batch run's), and the grid.
public struct SweepResult: Sendable {
    public let status: ExitStatus
    public let plan: BatchPlan?
    public let entries: [ManifestEntry]
    /// The grid clip, when it was built or is up to date.
    public let grid: URL?
}

/// `svdbatch sweep IMAGE --seeds … [--vary KEY=V1,V2,…]…`: the Cartesian product of seeds and varied values
/// rendered as ordinary batch jobs (same job keys, up-to-date checks, conflicts, checkpoints and resume,
/// manifest, run lock and exit statuses as `svdbatch run`), then the comparison grid. Never throws.
public enum Sweep {
    public static func run(_ options: SweepOptions, console: BatchConsole = .standard,
                           stop: StopFlag = StopFlag()) -> SweepResult {
        let reporter = options.start(console)
        func finish(_ status: ExitStatus, plan: BatchPlan? = nil, entries: [ManifestEntry] = [], grid: URL? = nil) -> SweepResult {
            SweepResult(status: status, plan: plan, entries: entries, grid: grid)
        }

        // Everything is checked before the lock is taken or anything is written.
        let design: SweepDesign
        let specs: [JobSpec]
        var modelNote: String?
        let catalog = ModelCatalog(variant: nil)
        do {
            design = try SweepDesign(options)
            try checkChosenTwice(design, options)
            let resolver = ModelResolver(environment: options.environment, attended: options.attended)
            var model: ResolvedModel?
            if !design.gives(.model) {
                (model, modelNote) = try SpecPlanner.defaultModel(options.model, workingDirectory: options.workingDirectory,
                                                                  resolver: resolver, catalog: catalog)
            }
            let validator = RowValidator(csvFolder: options.workingDirectory,
                                         defaults: RowDefaults(format: options.format ?? .mp4, crf: nil, model: model),
                                         resolver: resolver, catalog: catalog, inputs: InputCache())
            specs = try SweepSpecs(design: design, validator: validator).specs()
        } catch {
            reporter.error("\(error)")
            return finish(.fatal)
        }

        let outputDirectory = options.absolute(options.outputDirectory)
        let image = options.absolute(options.imagePath).path
        // The cells' format when they share one (mixed formats, from --vary format=…, fall back to --format).
        let formats = Set(specs.map(\.format))
        let grid = SweepGrid(design: design, specs: specs, directory: outputDirectory,
                             format: formats.count == 1 ? formats.first! : options.format ?? .mp4)
        let shape = "\(design.seeds.count) seed\(design.seeds.count == 1 ? "" : "s") × \(design.combinations.count) combination\(design.combinations.count == 1 ? "" : "s") = \(specs.count) cell\(specs.count == 1 ? "" : "s")"
        let run = PlannedRun(outputDirectory: outputDirectory, shard: nil, dryRun: options.dryRun,
                             environment: options.environment, source: "sweep \(options.imagePath) cell", saveFrames: false,
                             force: options.force, console: console,
                             reporter: reporter, stop: stop)
        let outcome = run.execute(makePlan: {
            let plan = SpecPlanner(source: "sweep:" + image, outputDirectory: outputDirectory, catalog: catalog,
                                   force: options.force).plan(specs, notes: modelNote.map { [$0] } ?? [])
            guard plan.rejected.isEmpty else {
                throw SweepUsageError(plan.rejected.map { "cell \($0.name ?? "\($0.line)"): \($0)" })
            }
            return plan
        }, dryRunText: { plan in
            let pending = Set(plan.jobs.filter(\.decision.renders).map(\.spec.outputFileName))
            let decision = grid.decide(force: options.force, pending: pending)
            var blocked = false
            if case .conflict = decision { blocked = true }
            return ("sweep: \(shape), one line per cell\n"
                + "grid \(grid.video.path) and \(grid.sheet.lastPathComponent): \(decision.text)\n", blocked)
        }, startLine: { _ in
            "svdbatch \(Recipe.toolVersion) sweep: \(options.imagePath), \(shape) → \(outputDirectory.path)"
        })

        switch outcome {
        case let .ended(status, plan):
            return finish(status, plan: plan)
        case let .planned(status, plan):
            return finish(status, plan: plan)
        case let .rendered(plan, entries, stoppedBy, manifest, started):
            if let signal = stoppedBy { return finish(.stopped(by: signal), plan: plan, entries: entries) }
            let summary = RunSession.summary(entries)
            guard !entries.contains(where: \.status.isFailure) else {
                reporter.error("cells: \(summary); the grid is not built until every cell is there (see the messages above\(manifest.map { " and \($0.file.path)" } ?? ""))")
                return finish(.jobsFailed, plan: plan, entries: entries)
            }
            let gridURL = grid.update(force: options.force, reporter: reporter)
            reporter.info("done in \(DurationText.text(Date().timeIntervalSince(started))): \(summary.isEmpty ? "no cells" : summary)" + RunSession.manifestText(manifest))
            return finish(gridURL == nil ? .jobsFailed : .success, plan: plan, entries: entries, grid: gridURL)
        }
    }

    /// `--model` with a model key, or `--format` with a format key, would be two answers to one question.
    private static func checkChosenTwice(_ design: SweepDesign, _ options: SweepOptions) throws {
        var problems: [String] = []
        for (column, option, given) in [(JobColumn.model, "--model", options.model != nil),
                                         (.format, "--format", options.format != nil)] where given {
            if let override = (design.fixed + design.varied).first(where: { $0.column == column }) {
                problems.append("\(override.quoted): \(option) also chooses the \(column.rawValue); give one of them")
            }
        }
        if !problems.isEmpty { throw SweepUsageError(problems) }
    }
}
