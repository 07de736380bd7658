import Foundation
import SVDMedia
import SVDModels

/// Plans jobs that arrive as validated `JobSpec`s instead of CSV rows (`svdbatch sweep`), deciding each one
/// exactly as `Planner` decides a CSV job: up to date when the clip exists with the job's key, resumed from
/// its own checkpoint, a conflict (or, with `force`, a replacement) when another file is in the way; specs
/// that would share a name are refused. The resulting `BatchPlan` runs through the ordinary `BatchRunner`.
struct SpecPlanner {
    /// Stands where a CSV run has the job list's path: in the manifest's `csv` field and the plan's heading.
    let source: String
    let outputDirectory: URL
    let catalog: ModelCatalog
    let force: Bool

    func plan(_ specs: [JobSpec], notes: [String]) -> BatchPlan {
        let (unique, clashes) = Planner.separateClashes(specs)
        var rejected = clashes
        var jobs: [PlannedJob] = []
        for spec in unique {
            if let problem = spec.model.memoryProblem(spec.parameters) {
                rejected.append(RowError(line: spec.line, name: spec.name, outputFileName: spec.outputFileName, reasons: [problem]))
                continue
            }
            do {
                jobs.append(try plannedJob(spec))
            } catch {
                rejected.append(RowError(line: spec.line, name: spec.name, outputFileName: spec.outputFileName,
                                         reasons: ["model: \(error)"]))
            }
        }
        var allNotes = notes
        var noted = Set<String>()
        for facts in jobs.map(\.spec.model) where noted.insert(facts.groupKey).inserted {
            allNotes.append(contentsOf: facts.notes.map { "model \(facts.model.name): \($0)" })
        }
        return BatchPlan(csvPath: source, outputDirectory: outputDirectory, shard: nil, rowCount: specs.count,
                         rejected: rejected.sorted { $0.line < $1.line }, jobs: jobs, otherShardJobs: 0, notes: allNotes)
    }

    private func plannedJob(_ spec: JobSpec) throws -> PlannedJob {
        try Planner.plannedJob(spec, in: outputDirectory, catalog: catalog, force: force, rerenderUpToDate: false,
                               saveFrames: false)
    }

    /// The model for jobs that name none, as a CSV run picks it: `reference` (`--model`) resolved from the
    /// working directory, else `SVDBATCH_MODEL`, else the bundled demo model (with a note saying so).
    static func defaultModel(_ reference: String?, workingDirectory: URL, resolver: ModelResolver,
                             catalog: ModelCatalog) throws -> (model: ResolvedModel, note: String?) {
        do {
            let model = try reference.map { try resolver.resolve($0, relativeTo: workingDirectory) }
                ?? resolver.resolveDefault(workingDirectory: workingDirectory)
            _ = try catalog.facts(for: model)
            let note = model.source == .demo
                ? "using the bundled demo model \(model.location.path): real SVD architecture with random weights, so its clips show abstract motion; pass --model DIR|REPO_ID or set SVDBATCH_MODEL for a real model"
                : nil
            return (model, note)
        } catch {
            throw PlanError.model("\(reference != nil ? "--model" : "the default model"): \(error)")
        }
    }
}
