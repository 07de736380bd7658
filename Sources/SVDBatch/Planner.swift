import Foundation
import SVDMedia
import SVDModels
import SVDPipeline

/// Builds the `BatchPlan`: reads the job list, validates every row, rejects rows that would write the same
/// files, keeps this shard's jobs, and decides for each whether it renders, resumes, is up to date or is
/// blocked by a file it must not overwrite. Reads the output folder; writes nothing.
struct Planner {
    let options: BatchOptions
    let resolver: ModelResolver
    let catalog: ModelCatalog

    func plan() throws -> BatchPlan {
        let csvURL = options.absolute(options.csvPath)
        let table: JobTable
        do { table = try JobTable.load(csvURL, path: options.csvPath) } catch let error as JobTableError {
            throw PlanError.jobList(error)
        }
        var notes: [String] = []
        let defaultModel = try runDefaultModel(needed: table.rows.contains { $0[.model] == nil }, notes: &notes)

        let validator = RowValidator(csvFolder: csvURL.deletingLastPathComponent(),
                                     defaults: RowDefaults(format: options.format, crf: options.crf, model: defaultModel),
                                     resolver: resolver, catalog: catalog, inputs: InputCache())
        var rejected: [RowError] = []
        var specs: [JobSpec] = []
        for row in table.rows {
            switch validator.validate(row) {
            case let .success(spec): specs.append(spec)
            case let .failure(error): rejected.append(error)
            }
        }
        let (unique, clashes) = Self.separateClashes(specs)
        rejected.append(contentsOf: clashes)

        let outputDirectory = options.absolute(options.outputDirectory)
        var jobs: [PlannedJob] = []
        var otherShards = 0
        for spec in unique {
            guard options.shard?.contains(outputFileName: spec.outputFileName) ?? true else {
                otherShards += 1
                continue
            }
            if let problem = spec.model.memoryProblem(spec.parameters) {
                rejected.append(RowError(line: spec.line, name: spec.name, outputFileName: spec.outputFileName, reasons: [problem]))
                continue
            }
            do {
                jobs.append(try plannedJob(spec, in: outputDirectory))
            } catch {
                rejected.append(RowError(line: spec.line, name: spec.name, outputFileName: spec.outputFileName,
                                         reasons: ["model: \(error)"]))
            }
        }
        var noted = Set<String>()
        for facts in jobs.map(\.spec.model) where noted.insert(facts.groupKey).inserted {
            notes.append(contentsOf: facts.notes.map { "model \(facts.model.name): \($0)" })
        }
        return BatchPlan(csvPath: csvURL.path, outputDirectory: outputDirectory, shard: options.shard,
                         rowCount: table.rows.count, rejected: rejected.sorted { $0.line < $1.line }, jobs: jobs,
                         otherShardJobs: otherShards, notes: notes)
    }

    /// `--model`, else (if some row names no model) `SVDBATCH_MODEL` or the demo model, as `SpecPlanner.defaultModel`
    /// picks it. Not finding or not opening it stops the run: every row without a model column would fail the same way.
    private func runDefaultModel(needed: Bool, notes: inout [String]) throws -> ResolvedModel? {
        guard options.model != nil || needed else { return nil }
        let (model, note) = try SpecPlanner.defaultModel(options.model, workingDirectory: options.workingDirectory,
                                                         resolver: resolver, catalog: catalog)
        if let note { notes.append(note) }
        return model
    }

    /// Rows whose outputs collide (same NAME: they would share the clip, the `.NAME.state` checkpoint or the
    /// frames folder) are all rejected, before anything renders.
    static func separateClashes(_ specs: [JobSpec]) -> (unique: [JobSpec], clashes: [RowError]) {
        let byName = Dictionary(grouping: specs, by: \.name)
        var clashes: [RowError] = []
        var unique: [JobSpec] = []
        for spec in specs {
            let group = byName[spec.name]!
            guard group.count > 1 else { unique.append(spec); continue }
            let others = group.filter { $0.line != spec.line }
            let list = others.map { "line \($0.line) (\($0.outputFileName))" }.joined(separator: ", ")
            let same = others.contains { $0.outputFileName == spec.outputFileName }
            let what = same ? "the same output \(spec.outputFileName)" : "the name \(spec.name) (checkpoint .\(spec.name).state, frames folder \(spec.name)_frames/)"
            clashes.append(RowError(line: spec.line, name: spec.name, outputFileName: spec.outputFileName,
                                    reasons: ["\(what) is also used by \(list); give each row its own name"]))
        }
        return (unique, clashes)
    }

    private func plannedJob(_ spec: JobSpec, in directory: URL) throws -> PlannedJob {
        try Self.plannedJob(spec, in: directory, catalog: catalog, force: options.force, saveFrames: options.saveFrames)
    }

    /// One job's key (from the model's fingerprint, the input's pixels and the effective parameters), paths and
    /// decision; shared by CSV runs and `SpecPlanner`.
    /// - Parameter rerenderUpToDate: whether `force` renders up-to-date clips again too (a CSV run's `--force`;
    ///   a sweep's `--force` is about its grid and leaves up-to-date cells alone).
    static func plannedJob(_ spec: JobSpec, in directory: URL, catalog: ModelCatalog, force: Bool,
                           rerenderUpToDate: Bool = true, saveFrames: Bool) throws -> PlannedJob {
        let (model, key) = try identity(of: spec, catalog: catalog)
        let output = directory.appendingPathComponent(spec.outputFileName)
        let checkpoint = directory.appendingPathComponent(spec.checkpointFileName)
        var staleKey: String?   // the replaced clip's, whose frames folder may be replaced too
        var decision = decide(output: output, checkpoint: checkpoint, jobKey: key,
                              totalSteps: spec.parameters.numInferenceSteps, force: force,
                              rerenderUpToDate: rerenderUpToDate) { recorded in
            staleKey = recorded.jobKey
            return RecipeChanges.describe(recorded: recorded, model: model, input: spec.input,
                                   parameters: RenderParameters(spec.parameters), encoder: spec.encoder)
        }
        // --save-frames: a NAME_frames folder (or file) this job did not write is in the way like a clip would be.
        if saveFrames, !force, decision.renders,
           let reason = FrameFolder.problem(directory.appendingPathComponent(spec.framesFolderName), jobKeys: Set([key] + (staleKey.map { [$0] } ?? []))) {
            decision = .conflict(reason: reason + "; it is left alone (--force replaces it)")
        }
        // --save-frames on an up-to-date clip whose frames folder is gone: the frames exist only as rendered, so
        // the job renders again (the same frames, the same clip bytes).
        if saveFrames, decision == .upToDate,
           !FileManager.default.fileExists(atPath: directory.appendingPathComponent(spec.framesFolderName).path) {
            decision = .replace(reason: "\(spec.framesFolderName) is missing and --save-frames asks for it; rendering again writes the same clip and the frames")
        }
        return PlannedJob(spec: spec, jobKey: key, model: model, output: output, checkpoint: checkpoint, decision: decision,
                          replacesJobKey: staleKey)
    }

    /// The model record a job's recipe carries and its job key (model fingerprint, input pixels, every
    /// parameter, encoder settings).
    static func identity(of spec: JobSpec, catalog: ModelCatalog) throws -> (model: ModelRecord, jobKey: String) {
        let fingerprint = try catalog.fingerprint(of: spec.model)
        let model = ModelRecord(name: spec.model.model.name, variant: spec.model.loadedVariant, fingerprint: fingerprint)
        let key = try Recipe.jobKey(modelSHA256: fingerprint.sha256, inputPixelsSHA256: spec.input.pixelsSHA256,
                                    parameters: RenderParameters(spec.parameters), encoder: spec.encoder)
        return (model, key)
    }

    /// Looks at what is on disk for one job. A clip svdbatch made for other inputs or settings (a stale clip: the
    /// row was edited) is rendered again and replaced, `changes` saying what changed; a file without an svdbatch
    /// recipe is someone else's and only `--force` replaces it. `--force` renders up-to-date clips again too.
    static func decide(output: URL, checkpoint: URL, jobKey: String, totalSteps: Int, force: Bool,
                       rerenderUpToDate: Bool = true,
                       changes: (Recipe) -> String = { "job_key \($0.jobKey.prefix(12))…" }) -> JobDecision {
        switch existingOutput(output, jobKey: jobKey) {
        case .absent: break
        case .thisJob:
            return force && rerenderUpToDate ? .replace(reason: "--force: the clip is up to date; rendered again") : .upToDate
        case let .stale(recorded): return .replace(reason: "stale: " + changes(recorded))
        case let .foreign(reason):
            return force ? .replace(reason: "--force: " + reason) : .conflict(reason: reason + "; it is left alone (--force replaces it)")
        }
        return resumeDecision(checkpoint: checkpoint, jobKey: jobKey, totalSteps: totalSteps)
    }

    /// A job with no clip yet: resumed when `checkpoint` holds exactly this job, else rendered from the start.
    static func resumeDecision(checkpoint: URL, jobKey: String, totalSteps: Int) -> JobDecision {
        do {
            guard let state = try CheckpointFile.read(checkpoint) else { return .render(note: nil) }
            if let why = state.mismatch(jobKey: jobKey, totalSteps: totalSteps) {
                return .render(note: "starts over and replaces \(checkpoint.lastPathComponent): \(why)")
            }
            return .resume(stepsDone: state.checkpoint.stepsDone, totalSteps: totalSteps)
        } catch {
            return .render(note: "\(error)")
        }
    }

    enum ExistingOutput {
        case absent
        case thisJob
        /// An svdbatch clip made from other inputs or settings.
        case stale(Recipe)
        /// Not an svdbatch clip (or not a regular file).
        case foreign(String)
    }

    static func existingOutput(_ output: URL, jobKey: String) -> ExistingOutput {
        var info = stat()
        guard lstat(output.path, &info) == 0 else { return .absent }
        guard info.st_mode & S_IFMT == S_IFREG else { return .foreign("\(output.path) exists and is not a regular file") }
        let recipe: Recipe
        do {
            let probe = try ClipReader.probe(output)
            recipe = try Recipe.decode(comment: probe.comment, file: output.path)
        } catch {
            return .foreign("\(output.path) exists but is not an svdbatch clip (\(error))")
        }
        return recipe.jobKey == jobKey ? .thisJob : .stale(recipe)
    }

    /// For `rerender`, where any other file is in the way: nil: nothing at `output`. `.some(nil)`: this job's
    /// clip. `.some(reason)`: something else is there.
    static func existingOutputProblem(_ output: URL, jobKey: String) -> String?? {
        switch existingOutput(output, jobKey: jobKey) {
        case .absent: return nil
        case .thisJob: return .some(nil)
        case let .stale(recipe):
            return .some("\(output.path) exists with a different job_key (\(recipe.jobKey.prefix(12))…, this job's is \(jobKey.prefix(12))…): made from other inputs or settings")
        case let .foreign(reason): return .some(reason)
        }
    }
}
