import Foundation
import SVDCore
import SVDMedia
import SVDModels
import SVDPipeline

/// What a rerender did.
public struct RerenderResult: Sendable {
    /// 0 done (or bit-exact); 1 frames differ (`--verify`) or the render or write failed; 2 usage or input
    /// problem (a file in the way included); 75 another run holds the output folder's lock; 130/143 stopped by a signal.
    public let status: ExitStatus
    /// With `--verify`: whether the new frames are bit-identical to the recorded ones.
    public let bitExact: Bool?
    /// The clip written, if any.
    public let output: URL?
}

/// `svdbatch rerender CLIP`: renders the job in a clip's recipe again, from the recorded image (found by its
/// pixels) and model (checked by its fingerprint): to verify it (`--verify`), to make a copy elsewhere or in
/// another format, or to make a variation (`--set`). The job is planned and rendered by the skeleton `run` and
/// `sweep` use (`PlannedRun`): lock, plan, dry run or render, manifest line. Never throws.
public enum Rerender {
    public static func run(_ options: RerenderOptions, console: BatchConsole = .standard,
                           stop: StopFlag = StopFlag()) -> RerenderResult {
        let reporter = options.start(console)
        do {
            return try RerenderRun(options: options, console: console, reporter: reporter, stop: stop).execute()
        } catch let error as RerenderError {
            reporter.error("\(error)")
            return RerenderResult(status: .fatal, bitExact: nil, output: nil)
        } catch {
            reporter.error("\(error)")
            return RerenderResult(status: .jobsFailed, bitExact: nil, output: nil)
        }
    }
}

/// One rerender, step by step: options, recipe, image, model, job, output, render, verdict, clip.
private struct RerenderRun {
    let options: RerenderOptions
    let console: BatchConsole
    let reporter: BatchReporter
    let stop: StopFlag

    func execute() throws -> RerenderResult {
        let overrides = try parseOverrides()
        let clip = options.absolute(options.clipPath)
        let recipe = try readRecipe(clip)
        // Before anything else: encoder options from the comment reach FFmpeg only if they are the standard ones.
        let recordedEncoder = try RerenderJob.standardEncoder(of: recipe)
        if (try? recipe.recomputedJobKey()) != recipe.jobKey {
            reporter.warning("\(clip.lastPathComponent): the recipe's job_key does not match its contents, so the recipe was edited after the clip was written; rendering what it says now")
        }

        let clipFolder = clip.deletingLastPathComponent()
        let image = try RerenderImageSearch(recorded: recipe.input, explicit: options.imagePath.map(options.absolute),
                                            clipFolder: clipFolder, workingDirectory: options.workingDirectory,
                                            imagesDirectory: options.imagesDirectory.map(options.absolute)).find()
        for note in image.notes { reporter.notice(note) }

        // The recorded variant, so the same weight files are loaded (nil for a per-component mix: auto).
        let catalog = ModelCatalog(variant: WeightVariant(rawValue: recipe.model.variant))
        let resolver = ModelResolver(environment: options.environment)
        var model: ResolvedModel?
        if !overrides.contains(where: { $0.column == .model }) {
            let match = try RerenderModelMatch(recorded: recipe.model, explicit: options.model,
                                               workingDirectory: options.workingDirectory, clipFolder: clipFolder,
                                               resolver: resolver, catalog: catalog).find()
            for note in match.notes { reporter.notice(note) }
            model = match.facts.model
        }
        let validator = RowValidator(csvFolder: options.workingDirectory,
                                     defaults: RowDefaults(format: options.format ?? recipe.encoder.format, crf: nil, model: model),
                                     resolver: resolver, catalog: catalog, inputs: InputCache())
        let job = try RerenderJob.make(recipe: recipe, stem: clip.deletingPathExtension().lastPathComponent, image: image.url,
                                       overrides: overrides, format: options.format, validator: validator, catalog: catalog)
        if !job.changes.isEmpty {
            reporter.info("variation of \(clip.lastPathComponent): " + job.changes.keys.sorted().map { "\($0)=\(job.changes[$0]!)" }.joined(separator: ", "))
        }

        // --out, else the clip's folder; --verify writes only into --out.
        let folder = options.outputDirectory.map(options.absolute) ?? (options.verify ? nil : clipFolder)
        let output = (folder ?? clipFolder).appendingPathComponent(job.spec.outputFileName)
        func canonical(_ u: URL) -> String { u.standardizedFileURL.resolvingSymlinksInPath().path }
        if folder != nil, canonical(output) == canonical(clip) { throw RerenderError.outputIsSource(path: clip.path) }

        var run = PlannedRun(outputDirectory: folder, shard: nil, dryRun: options.dryRun, environment: options.environment,
                             source: clip.lastPathComponent, saveFrames: false, force: options.force, console: console,
                             reporter: reporter, stop: stop)
        var verification: RerenderVerification?
        if options.verify {
            run.framesRendered = { _, frames, seconds in
                let verdict = RerenderVerification(recipe: recipe, encoder: recordedEncoder, clip: clip, frames: frames, seconds: seconds)
                console.output.write(verdict.report())
                verification = verdict
            }
        }
        let outcome = run.execute(makePlan: { try plan(job, recipe: recipe, clip: clip, output: output, writes: folder != nil) },
                                  startLine: { _ in "svdbatch \(Recipe.toolVersion) rerender: \(clip.path) → \(folder?.path ?? "nothing written (--verify)")" })

        let bitExact = verification?.bitExact
        let verdict: ExitStatus = bitExact == false ? .jobsFailed : .success
        switch outcome {
        case let .ended(status, _), let .planned(status, _):
            return RerenderResult(status: status, bitExact: nil, output: nil)
        case let .rendered(_, entries, stoppedBy, _, _):
            if let signal = stoppedBy { return RerenderResult(status: .stopped(by: signal), bitExact: nil, output: nil) }
            // A job rendered only to be verified has no manifest line; a failed render was reported by the runner.
            guard let entry = entries.first else {
                return RerenderResult(status: verification == nil ? .jobsFailed : verdict, bitExact: bitExact, output: nil)
            }
            switch entry.status {
            case .rendered, .resumed:
                let what = job.changes.isEmpty ? "a re-render of \(clip.lastPathComponent)"
                    : job.changes.keys.sorted() == ["format"] ? "the job of \(clip.lastPathComponent) as \(job.spec.format.rawValue)"
                    : "a variation of \(clip.lastPathComponent)"
                console.output.write("wrote \(output.path) (\(what), rendered in \(DurationText.text(entry.seconds)))\n")
                return RerenderResult(status: verdict, bitExact: bitExact, output: output)
            case .upToDate:
                console.output.write("\(output.path) is already this job's clip (same job_key): nothing rendered (--force renders it again)\n")
                return RerenderResult(status: .success, bitExact: nil, output: output)
            case .conflict:
                // A file that appeared while the job rendered: in the way, as one found before rendering is.
                return RerenderResult(status: .fatal, bitExact: bitExact, output: nil)
            case .failed, .interrupted:
                return RerenderResult(status: .jobsFailed, bitExact: bitExact, output: nil)
            }
        }
    }

    /// The one-job plan, made under the output folder's lock: where the clip goes and what is there now
    /// (nothing, this job's clip, or a file that is replaced only with `--force`). A `--verify` render starts
    /// from the first step and saves no checkpoint; it is written only with `--out`.
    private func plan(_ job: RerenderJob, recipe: Recipe, clip: URL, output: URL, writes: Bool) throws -> BatchPlan {
        let spec = job.spec
        let checkpoint = options.verify ? nil : output.deletingLastPathComponent().appendingPathComponent(spec.checkpointFileName)
        let decision: JobDecision
        if !writes {
            decision = .verify
        } else {
            switch Planner.existingOutputProblem(output, jobKey: job.jobKey) {
            case .none:
                decision = checkpoint.map {
                    Planner.resumeDecision(checkpoint: $0, jobKey: job.jobKey, totalSteps: spec.parameters.numInferenceSteps)
                } ?? .render(note: nil)
            case .some(.none):
                decision = options.force ? .replace(reason: "--force: the clip is up to date; rendered again")
                    : options.verify ? .verify : .upToDate
            case let .some(.some(reason)):
                guard options.force else { throw RerenderError.outputExists(path: output.path, reason: reason) }
                decision = .replace(reason: "--force: " + reason)
            }
        }
        var planned = PlannedJob(spec: spec, jobKey: job.jobKey, model: job.model, output: output, checkpoint: checkpoint,
                                 decision: decision)
        if !job.changes.isEmpty { planned.variation = Variation(derivedFrom: recipe.framesSHA256, changes: job.changes) }
        return BatchPlan(csvPath: clip.path, outputDirectory: output.deletingLastPathComponent(), shard: nil, rowCount: 1,
                         rejected: [], jobs: [planned], otherShardJobs: 0, notes: [])
    }

    private func parseOverrides() throws -> [ParameterOverride] {
        if options.verify && !options.set.isEmpty {
            throw RerenderError.usage("--verify checks that the recorded job reproduces, so it cannot be combined with --set; render the variation without --verify")
        }
        let overrides: [ParameterOverride]
        do {
            overrides = try options.set.map { try ParameterOverride.parse($0, option: "--set", list: false, refused: RerenderJob.refused) }
            try ParameterOverride.checkDistinct(overrides)
        } catch {
            throw RerenderError.usage("\(error)")
        }
        if options.model != nil, let set = overrides.first(where: { $0.column == .model }) {
            throw RerenderError.usage("--model says where the recorded model is, \(set.quoted) renders with another model; give one of them")
        }
        if let format = options.format, let set = overrides.first(where: { $0.column == .format }) {
            throw RerenderError.usage("--format \(format.rawValue) and \(set.quoted) both choose the format; give one of them")
        }
        return overrides
    }

    private func readRecipe(_ clip: URL) throws -> Recipe {
        do {
            let probe = try ClipReader.probe(clip)
            return try Recipe.decode(comment: probe.comment, file: clip.path)
        } catch let error as RecipeError {
            // A grid carries its cells' recipes, not one of its own: point at the cells.
            if let probe = try? ClipReader.probe(clip), let grid = try? GridMetadata.decode(comment: probe.comment, file: clip.path) {
                let cells = grid.cells.prefix(3).map(\.file).joined(separator: ", ")
                throw RerenderError.clip("\(clip.path) is a grid of \(grid.cells.count) clips (\(cells)\(grid.cells.count > 3 ? ", …" : "")); rerender one of its cells instead")
            }
            throw RerenderError.clip("\(error); rerender needs a clip written by svdbatch")
        } catch {
            throw RerenderError.clip("\(error)")
        }
    }
}
