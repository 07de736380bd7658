import Foundation
import SVDCore
import SVDMedia
import SVDPipeline

/// The job `rerender` renders: the recipe's own, or a variation of it with `--set` values and `--format`.
/// The recipe's typed values make a `JobDraft` checked by `RowValidator`; `--set` values are parsed into it as
/// CSV cells are, so they follow exactly the rules (and get exactly the messages) of CSV cells.
struct RerenderJob {
    let spec: JobSpec
    let model: ModelRecord
    let jobKey: String
    /// What differs from the recipe, key → new value (parameters as CSV columns, plus `model` and `format`);
    /// empty when this is the recorded job.
    let changes: [String: String]

    /// `--set` keys rerender does not take.
    static let refused: [JobColumn: String] = [
        .image: "the input is the recorded image (--image or --images-dir say where to find it); use `svdbatch run` for another image",
    ]

    /// The recipe's encoder settings, if they are exactly svdbatch's standard ones for its format and recorded
    /// crf. Options read from a clip's comment are never passed to FFmpeg otherwise: an edited comment could
    /// set encoder options that write files (x264 `stats`/`pass`, …). Throws `RerenderError.clip` (exit 2).
    static func standardEncoder(of recipe: Recipe) throws -> EncoderSettings {
        let recorded = recipe.encoder
        let crfText = recorded.codecOptions["crf"]
        let crf = recorded.format == .mkv ? nil : crfText.flatMap { Int($0) }
        let standard = try? EncoderSettings.standard(recorded.format, crf: crf)
        guard let standard, standard == recorded else {
            var differences: [String] = []
            if let standard {
                if standard.codec != recorded.codec { differences.append("codec \(recorded.codec)") }
                if standard.pixelFormat != recorded.pixelFormat { differences.append("pixel_format \(recorded.pixelFormat)") }
                for (name, options) in [("codec_options", (standard.codecOptions, recorded.codecOptions)),
                                        ("muxer_options", (standard.muxerOptions, recorded.muxerOptions))] {
                    let keys = Set(options.0.keys).union(options.1.keys).filter { options.0[$0] != options.1[$0] }.sorted()
                    if !keys.isEmpty {
                        differences.append("\(name) " + keys.map { "\($0)=\(options.1[$0] ?? "(missing)")" }.joined(separator: ", "))
                    }
                }
                if standard.color != recorded.color { differences.append("color") }
                if standard.scaler != recorded.scaler { differences.append("scaler \(recorded.scaler)") }
            } else {
                differences.append("crf \(crfText ?? "(missing)") is not a valid \(recorded.format.rawValue) crf")
            }
            throw RerenderError.clip("the recipe's encoder settings are not svdbatch's standard \(recorded.format.rawValue) settings"
                + (crf.map { " with crf \($0)" } ?? "") + " (differs in: \(differences.joined(separator: "; "))), so the recipe was edited or written by another program; rerender never passes encoder options read from a clip to FFmpeg. Render the job with `svdbatch run` instead (a CSV row with the recorded parameters).")
        }
        return standard
    }

    /// - Parameters:
    ///   - stem: the original clip's name without extension; variations are `<stem>-<key><value>…`.
    ///   - format: `--format`, or nil for the recorded format.
    static func make(recipe: Recipe, stem: String, image: URL, overrides: [ParameterOverride], format: ClipFormat?,
                     validator: RowValidator, catalog: ModelCatalog) throws -> RerenderJob {
        _ = try standardEncoder(of: recipe)
        let v = recipe.parameters.video
        var draft = JobDraft(v, image: image.path, name: stem, format: format ?? recipe.encoder.format)
        let recorded: JobSpec
        switch validator.validate(draft) {
        case let .success(spec): recorded = spec
        case let .failure(error):
            throw RerenderError.invalidJob(error.reasons.map { "the recorded job cannot be rendered: \($0)" })
        }
        guard !overrides.isEmpty else { return try finish(recorded, recipe: recipe, catalog: catalog) }

        let columns = Set(overrides.map(\.column))
        // A decode chunk equal to the frame count is diffusers' default: it follows a new num_frames.
        if columns.contains(.numFrames), !columns.contains(.decodeChunkSize), v.decodeChunkSize == v.numFrames {
            draft.integers[.decodeChunkSize] = nil
        }
        if !columns.contains(.name) {
            draft.name = stem + overrides.map { "-" + ParameterOverride.nameFragment($0.column, $0.values[0]) }.joined()
        }
        var changed = draft
        for override in overrides { changed.set(override.column, text: override.values[0]) }
        switch validator.validate(changed) {
        case let .success(spec):
            return try finish(spec, recipe: recipe, catalog: catalog)
        case let .failure(error):
            var problems: [String] = []
            for override in overrides {
                var alone = draft
                alone.set(override.column, text: override.values[0])
                if case let .failure(aloneError) = validator.validate(alone) {
                    problems += aloneError.reasons.map { "\(override.quoted): \($0)" }
                }
            }
            if problems.isEmpty { problems = error.reasons.map { "\(overrides.map(\.quoted).joined(separator: " ")): \($0)" } }
            throw RerenderError.invalidJob(problems)
        }
    }

    /// The recorded encoder settings when the format is unchanged (so the file is made exactly as before),
    /// else the new format's standard ones; the model's fingerprint, the job key and the changes.
    private static func finish(_ validated: JobSpec, recipe: Recipe, catalog: ModelCatalog) throws -> RerenderJob {
        // The recorded settings only once checked to be the standard ones (see `standardEncoder(of:)`).
        let encoder = validated.format == recipe.encoder.format ? try standardEncoder(of: recipe) : validated.encoder
        let spec = JobSpec(line: validated.line, name: validated.name, format: validated.format,
                           imageName: recipe.input.name, input: validated.input, model: validated.model,
                           parameters: validated.parameters, encoder: encoder)
        let (model, key) = try Planner.identity(of: spec, catalog: catalog)
        var changes = parameterChanges(recipe.parameters.video, spec.parameters)
        if model.fingerprint.sha256 != recipe.model.fingerprint.sha256 { changes["model"] = model.name }
        if spec.format != recipe.encoder.format { changes["format"] = spec.format.rawValue }
        return RerenderJob(spec: spec, model: model, jobKey: key, changes: changes)
    }

    /// Parameters whose effective values differ, by CSV column name, with the new value.
    static func parameterChanges(_ old: VideoParameters, _ new: VideoParameters) -> [String: String] {
        var changes: [String: String] = [:]
        func compare<T: Equatable>(_ column: JobColumn, _ path: KeyPath<VideoParameters, T>) {
            if old[keyPath: path] != new[keyPath: path] { changes[column.rawValue] = "\(new[keyPath: path])" }
        }
        compare(.seed, \.seed)
        compare(.width, \.width)
        compare(.height, \.height)
        compare(.numFrames, \.numFrames)
        compare(.numInferenceSteps, \.numInferenceSteps)
        compare(.fps, \.fps)
        compare(.motionBucketId, \.motionBucketId)
        compare(.noiseAugStrength, \.noiseAugStrength)
        compare(.minGuidanceScale, \.minGuidanceScale)
        compare(.maxGuidanceScale, \.maxGuidanceScale)
        compare(.decodeChunkSize, \.decodeChunkSize)
        return changes
    }
}
