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
/// another format, or to make a variation (`--set`). Never throws.
public enum Rerender {
    public static func run(_ options: RerenderOptions, console: BatchConsole = .standard,
                           stop: StopFlag = StopFlag()) -> RerenderResult {
        let reporter = options.start(console)
        do {
            return try RerenderRun(options: options, console: console, reporter: reporter, stop: stop).execute()
        } catch let error as RerenderError {
            reporter.error("\(error)")
            if case .locked = error { return RerenderResult(status: .locked, bitExact: nil, output: nil) }
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

        // The run lock of the folder the clip goes to (as `run` and `sweep` take it), held until the clip is written.
        let (target, lock) = try outputTarget(job, clip: clip)
        defer { lock?.release() }
        if case let .upToDate(path) = target {
            console.output.write("\(path.path) is already this job's clip (same job_key): nothing rendered (--force renders it again)\n")
            return RerenderResult(status: .success, bitExact: nil, output: path)
        }
        let writeTo: URL?, replacing: Bool
        switch target {
        case let .write(url, replace): (writeTo, replacing) = (url, replace)
        case .none, .upToDate: (writeTo, replacing) = (nil, false)
        }
        let checkpoint = options.verify ? nil : writeTo.map {
            $0.deletingLastPathComponent().appendingPathComponent(job.spec.checkpointFileName)
        }
        let rendered: RerenderRenderer.Rendered
        do {
            rendered = try RerenderRenderer(reporter: reporter, stop: stop,
                                            calibration: SpeedCalibration(environment: options.environment)).render(job, image: image.image, checkpoint: checkpoint)
        } catch is RenderStopped {
            let signal = stop.requested ?? SIGINT
            let resume = checkpoint.flatMap { FileManager.default.fileExists(atPath: $0.path) ? $0 : nil }
                .map { "; the checkpoint \($0.path) is kept, and the same command resumes from it" } ?? ""
            reporter.warning("stopped by \(signal == SIGTERM ? "SIGTERM" : "SIGINT"): nothing was written\(resume)")
            return RerenderResult(status: .stopped(by: signal), bitExact: nil, output: nil)
        }

        var status = ExitStatus.success
        var bitExact: Bool?
        if options.verify {
            let verification = RerenderVerification(recipe: recipe, encoder: recordedEncoder, clip: clip,
                                                    frames: rendered.frames, seconds: rendered.seconds)
            console.output.write(verification.report())
            bitExact = verification.bitExact
            if !verification.bitExact { status = .jobsFailed }
        }
        guard let writeTo else { return RerenderResult(status: status, bitExact: bitExact, output: nil) }
        if replacing { reporter.warning("--force: replacing \(writeTo.path)") }
        try write(rendered.frames, job: job, original: recipe, input: image.record, to: writeTo, replacing: replacing)
        if let checkpoint { unlink(checkpoint.path) }
        let what = job.changes.isEmpty ? "a re-render of \(clip.lastPathComponent)"
            : job.changes.keys.sorted() == ["format"] ? "the job of \(clip.lastPathComponent) as \(job.spec.format.rawValue)"
            : "a variation of \(clip.lastPathComponent)"
        console.output.write("wrote \(writeTo.path) (\(what), rendered in \(DurationText.text(rendered.seconds)))\n")
        return RerenderResult(status: status, bitExact: bitExact, output: writeTo)
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

    private enum Target {
        /// `--verify` without `--out`: nothing is written.
        case none
        case write(URL, replacing: Bool)
        /// The clip is already there with this job key.
        case upToDate(URL)
    }

    /// Where the clip goes (`--out`, else the clip's folder; with `--verify`, only with `--out`), and what is
    /// there now: nothing, this job's clip (up to date), or a file that is replaced only with `--force`.
    /// The folder's run lock is taken before looking (exit 75 when another run holds it), and returned with a
    /// target that writes.
    private func outputTarget(_ job: RerenderJob, clip: URL) throws -> (Target, RunLock?) {
        guard let folder = options.outputDirectory.map(options.absolute) ?? (options.verify ? nil : clip.deletingLastPathComponent())
        else { return (.none, nil) }
        let url = folder.appendingPathComponent(job.spec.outputFileName)
        func canonical(_ u: URL) -> String { u.standardizedFileURL.resolvingSymlinksInPath().path }
        if canonical(url) == canonical(clip) { throw RerenderError.outputIsSource(path: clip.path) }
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw RerenderError.usage("--out \(folder.path): cannot create the folder: \(error.localizedDescription)")
        }
        let lock: RunLock
        switch RunSession.lockOutputFolder(folder, shard: nil) {
        case let .success(held): lock = held
        case let .failure(failure):
            throw failure.status == .locked ? RerenderError.locked(failure.message) : RerenderError.usage(failure.message)
        }
        if let problem = RunSession.checkOutputFolder(folder, manifest: nil) { throw RerenderError.usage(problem) }
        switch Planner.existingOutputProblem(url, jobKey: job.jobKey) {
        case .none:
            return (.write(url, replacing: false), lock)
        case .some(.none):
            if options.force { return (.write(url, replacing: true), lock) }
            // --verify still renders and judges; it just has nothing to write.
            return (options.verify ? .none : .upToDate(url), nil)
        case let .some(.some(reason)):
            if options.force { return (.write(url, replacing: true), lock) }
            throw RerenderError.outputExists(path: url.path, reason: reason)
        }
    }

    /// The clip, atomically, with its recipe: a variation's records the original's frames as `derived_from`
    /// and what changed.
    private func write(_ frames: [RGBImage], job: RerenderJob, original: Recipe, input: InputRecord, to url: URL,
                       replacing: Bool) throws {
        let varied = !job.changes.isEmpty
        let recipe = try Recipe(model: job.model, input: input, parameters: RenderParameters(job.spec.parameters),
                                encoder: job.spec.encoder, framesSHA256: Digests.sha256Hex(frames: frames),
                                diagnostics: .current,
                                derivedFrom: varied ? original.framesSHA256 : nil, changes: varied ? job.changes : nil)
        do {
            try ClipWriter.write(frames, fps: job.spec.parameters.fps, settings: job.spec.encoder, comment: try recipe.json(),
                                 to: url, overwrite: replacing)
        } catch ClipWriteError.alreadyExists {
            // A file in the way is exit status 2, as when it is there before rendering.
            throw RerenderError.outputExists(path: url.path, reason: "it appeared while the job rendered")
        }
    }
}
