import Foundation
import SVDCore
import SVDMedia
import SVDPipeline

/// Run-wide settings a row falls back on when its cell is empty.
public struct RowDefaults {
    public var format: ClipFormat
    /// `--crf`; applies to the lossy formats, and mkv rows (lossless) ignore it.
    public var crf: Int?
    /// `--model`, `SVDBATCH_MODEL` or the demo model; nil when every row names its own model.
    public var model: ResolvedModel?
}

/// A job's values, typed, before the checks that need the whole job (ranges, defaults, model, input, name). A
/// CSV record or a `--set` value is parsed into one (`init(_ row:)`, `set(_:text:)`); `rerender` fills one from a
/// recipe's typed values. A cell that does not parse is kept as its message, reported in column order with
/// the other problems.
struct JobDraft {
    var line = 0
    var extraFields = 0
    var image: String?
    var name: String?
    /// The model as written (a folder, a file or a repository id).
    var model: String?
    var seed: Seed?
    var format: ClipFormat?
    var integers: [JobColumn: Int] = [:]
    /// Decimal parameters with the text they were written as, for messages.
    var numbers: [JobColumn: (value: Double, text: String)] = [:]
    /// Columns whose text did not parse → why.
    var unparsable: [JobColumn: String] = [:]

    static let integerColumns: Set<JobColumn> = [.width, .height, .numFrames, .numInferenceSteps, .fps, .decodeChunkSize,
                                                 .motionBucketId]
    static let numberColumns: Set<JobColumn> = [.noiseAugStrength, .minGuidanceScale, .maxGuidanceScale]

    init(line: Int = 0) { self.line = line }

    init(_ row: JobRow) {
        line = row.line
        extraFields = row.extraFields
        for column in JobColumn.allCases { if let text = row[column] { set(column, text: text) } }
    }

    /// The job of a recipe's parameters (every value typed: nothing goes through text).
    init(_ v: VideoParameters, image: String, name: String, format: ClipFormat) {
        self.image = image
        self.name = name
        self.format = format
        seed = v.seed
        integers = [.width: v.width, .height: v.height, .numFrames: v.numFrames, .numInferenceSteps: v.numInferenceSteps,
                    .fps: v.fps, .motionBucketId: v.motionBucketId, .decodeChunkSize: v.decodeChunkSize]
        numbers = [.noiseAugStrength: (v.noiseAugStrength, "\(v.noiseAugStrength)"),
                   .minGuidanceScale: (v.minGuidanceScale, "\(v.minGuidanceScale)"),
                   .maxGuidanceScale: (v.maxGuidanceScale, "\(v.maxGuidanceScale)")]
    }

    /// Parses one cell's text into its column (empty text: the column's default).
    mutating func set(_ column: JobColumn, text: String) {
        unparsable[column] = nil
        let empty = text.isEmpty
        switch column {
        case .image: image = empty ? nil : text
        case .name: name = empty ? nil : text
        case .model: model = empty ? nil : text
        case .seed:
            seed = empty ? nil : Seed(parsing: text)
            if !empty, seed == nil { unparsable[.seed] = "seed '\(text)' is not a decimal integer in [-2^63, 2^64) (e.g. 42 or -7)" }
        case .format:
            format = empty ? nil : ClipFormat(rawValue: text.lowercased())
            if !empty, format == nil {
                unparsable[.format] = "format '\(text)' is not one of \(ClipFormat.allCases.map(\.rawValue).joined(separator: ", "))"
            }
        case _ where Self.integerColumns.contains(column):
            integers[column] = empty ? nil : Int(text)
            if !empty, integers[column] == nil { unparsable[column] = "\(column.rawValue) '\(text)' is not an integer" }
        default:
            // The pipeline computes in Float: 1e39 is a finite Double but an infinite Float.
            if empty {
                numbers[column] = nil
            } else if let value = Double(text), value.isFinite, Float(value).isFinite {
                numbers[column] = (value, text)
            } else {
                numbers[column] = nil
                unparsable[column] = "\(column.rawValue) '\(text)' is not a finite number"
            }
        }
    }

    /// Sets a typed value.
    mutating func set(_ column: JobColumn, integer value: Int) {
        unparsable[column] = nil
        integers[column] = value
    }
}

/// Checks one job and turns it into a `JobSpec`, or a `RowError` that lists every problem of the job (not just
/// the first), so one look at the messages is enough to fix it.
struct RowValidator {
    let csvFolder: URL
    let defaults: RowDefaults
    let resolver: ModelResolver
    let catalog: ModelCatalog
    let inputs: InputCache

    func validate(_ row: JobRow) -> Result<JobSpec, RowError> { validate(JobDraft(row)) }

    func validate(_ draft: JobDraft) -> Result<JobSpec, RowError> {
        var reasons: [String] = []
        func fail(_ message: String) { reasons.append(message) }

        if draft.extraFields > 0 {
            fail("the record has \(draft.extraFields) field\(draft.extraFields == 1 ? "" : "s") more than the header (a value with a comma must be in double quotes)")
        }

        // Seed: required, a decimal integer in [-2^63, 2^64).
        let seed = draft.seed
        if let problem = draft.unparsable[.seed] {
            fail(problem)
        } else if seed == nil {
            fail("seed is empty; every row needs one (a decimal integer in [-2^63, 2^64))")
        }

        // Model: needed for the default frame count, so resolved before the numbers.
        var facts: ModelFacts?
        do {
            let model: ResolvedModel
            if let reference = draft.model {
                model = try resolver.resolve(reference, relativeTo: csvFolder)
            } else if let fallback = defaults.model {
                model = fallback
            } else {
                throw ModelResolutionError.noDefaultModel(searched: [])
            }
            facts = try catalog.facts(for: model)
        } catch {
            fail("model: \(error)")
        }

        // Upper limits keep every product downstream (latent sizes, work estimates, frame counts) far from overflow.
        let size = { (v: Int) in
            v < 64 || v % 8 != 0 ? "must be a multiple of 8 and at least 64" : v > 16384 ? "must be at most 16384" : nil
        }
        let width = integer(draft, .width, default: 1024, fail: fail, size)
        let height = integer(draft, .height, default: 576, fail: fail, size)
        func range(_ upper: Int) -> (Int) -> String? {
            { v in v < 1 ? "must be at least 1" : v > upper ? "must be at most \(upper)" : nil }
        }
        let frames = integer(draft, .numFrames, default: facts?.defaultFrames, fail: fail, range(1024))
        let steps = integer(draft, .numInferenceSteps, default: 25, fail: fail, range(10_000))
        let fps = integer(draft, .fps, default: 7, fail: fail, range(1000))
        let chunk = integer(draft, .decodeChunkSize, default: frames, fail: fail, range(1024))
        let bucket = integer(draft, .motionBucketId, default: 127, fail: fail) {
            $0 < 0 ? "must be 0 or more" : $0 > 1_000_000 ? "must be at most 1000000" : nil
        }
        let noise = number(draft, .noiseAugStrength, default: 0.02, fail: fail) { $0 < 0 ? "must be 0 or more" : $0 > 10 ? "must be at most 10" : nil }
        let minScale = number(draft, .minGuidanceScale, default: 1.0, fail: fail) { $0 < 0 ? "must be 0 or more" : $0 > 100 ? "must be at most 100" : nil }
        let maxScale = number(draft, .maxGuidanceScale, default: 3.0, fail: fail) { $0 > 100 ? "must be at most 100" : nil }
        if let minScale, let maxScale, maxScale < minScale {
            fail("max_guidance_scale \(maxScale) is below min_guidance_scale \(minScale) (need 0 ≤ min ≤ max)")
        }

        if let problem = draft.unparsable[.format] { fail(problem) }
        let format = draft.format ?? defaults.format
        var encoder: EncoderSettings?
        do { encoder = try EncoderSettings.standard(format, crf: format == .mkv ? nil : defaults.crf) } catch {
            fail("--crf: \(error)")
        }

        // Name: a plain file name; by default <image stem>-s<seed>.
        var name: String?
        if let given = draft.name {
            if let problem = JobName.problem(given) { fail("name '\(given)' \(problem)") } else { name = given }
        } else if let image = draft.image, let seed {
            let derived = JobName.defaultName(image: image, seed: seed)
            if let problem = JobName.problem(derived) {
                fail("the default name '\(derived)' (image stem + seed) \(problem); add a name column")
            } else {
                name = derived
            }
        }

        var input: InputFacts?
        if let image = draft.image {
            let url = image.hasPrefix("/") ? URL(fileURLWithPath: image) : csvFolder.appendingPathComponent(image)
            do { input = try inputs.facts(url) } catch { fail("image '\(image)': \(error)") }
        } else {
            fail("image is empty; every row needs the path of an input image (relative to the CSV's folder)")
        }

        let outputFileName = name.map { "\($0).\(format.fileExtension)" }
        guard reasons.isEmpty, let seed, let facts, let width, let height, let frames, let steps, let fps, let chunk,
              let bucket, let noise, let minScale, let maxScale, let encoder, let name, let input, let image = draft.image
        else {
            return .failure(RowError(line: draft.line, name: name, outputFileName: outputFileName, reasons: reasons))
        }
        let parameters = VideoParameters(seed: seed, numFrames: frames, width: width, height: height,
                                         numInferenceSteps: steps, fps: fps, motionBucketId: bucket,
                                         noiseAugStrength: noise, minGuidanceScale: minScale,
                                         maxGuidanceScale: maxScale, decodeChunkSize: chunk)
        do { try VideoPipeline.validate(parameters) } catch {
            return .failure(RowError(line: draft.line, name: name, outputFileName: outputFileName, reasons: ["\(error)"]))
        }
        return .success(JobSpec(line: draft.line, name: name, format: format, imageName: image, input: input,
                                model: facts, parameters: parameters, encoder: encoder))
    }

    /// An integer parameter, its default when absent, or nil after recording why it is unusable.
    private func integer(_ draft: JobDraft, _ column: JobColumn, default fallback: Int?, fail: (String) -> Void,
                         _ check: (Int) -> String?) -> Int? {
        if let problem = draft.unparsable[column] {
            fail(problem)
            return nil
        }
        guard let value = draft.integers[column] else { return fallback }
        if let problem = check(value) {
            fail("\(column.rawValue) \(value) \(problem)")
            return nil
        }
        return value
    }

    /// A decimal parameter, its default when absent, or nil after recording why it is unusable.
    private func number(_ draft: JobDraft, _ column: JobColumn, default fallback: Double, fail: (String) -> Void,
                        _ check: (Double) -> String?) -> Double? {
        if let problem = draft.unparsable[column] {
            fail(problem)
            return nil
        }
        guard let (value, text) = draft.numbers[column] else { return fallback }
        if let problem = check(value) {
            fail("\(column.rawValue) \(text) \(problem)")
            return nil
        }
        return value
    }
}
