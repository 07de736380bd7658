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

/// Checks one CSV record and turns it into a `JobSpec`, or a `RowError` that lists every problem of the row
/// (not just the first), so one look at the messages is enough to fix it.
struct RowValidator {
    let csvFolder: URL
    let defaults: RowDefaults
    let resolver: ModelResolver
    let catalog: ModelCatalog
    let inputs: InputCache

    func validate(_ row: JobRow) -> Result<JobSpec, RowError> {
        var reasons: [String] = []
        func fail(_ message: String) { reasons.append(message) }

        if row.extraFields > 0 {
            fail("the record has \(row.extraFields) field\(row.extraFields == 1 ? "" : "s") more than the header (a value with a comma must be in double quotes)")
        }

        // Seed: required, a decimal integer in [-2^63, 2^64).
        var seed: Seed?
        if let text = row[.seed] {
            seed = Seed(parsing: text)
            if seed == nil { fail("seed '\(text)' is not a decimal integer in [-2^63, 2^64) (e.g. 42 or -7)") }
        } else {
            fail("seed is empty; every row needs one (a decimal integer in [-2^63, 2^64))")
        }

        // Model: needed for the default frame count, so resolved before the numbers.
        var facts: ModelFacts?
        do {
            let model: ResolvedModel
            if let reference = row[.model] {
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
        let width = integer(row, .width, default: 1024, fail: fail, size)
        let height = integer(row, .height, default: 576, fail: fail, size)
        func range(_ upper: Int) -> (Int) -> String? {
            { v in v < 1 ? "must be at least 1" : v > upper ? "must be at most \(upper)" : nil }
        }
        let frames = integer(row, .numFrames, default: facts?.defaultFrames, fail: fail, range(1024))
        let steps = integer(row, .numInferenceSteps, default: 25, fail: fail, range(10_000))
        let fps = integer(row, .fps, default: 7, fail: fail, range(1000))
        let chunk = integer(row, .decodeChunkSize, default: frames, fail: fail, range(1024))
        let bucket = integer(row, .motionBucketId, default: 127, fail: fail) {
            $0 < 0 ? "must be 0 or more" : $0 > 1_000_000 ? "must be at most 1000000" : nil
        }
        let noise = number(row, .noiseAugStrength, default: 0.02, fail: fail) { $0 < 0 ? "must be 0 or more" : $0 > 10 ? "must be at most 10" : nil }
        let minScale = number(row, .minGuidanceScale, default: 1.0, fail: fail) { $0 < 0 ? "must be 0 or more" : $0 > 100 ? "must be at most 100" : nil }
        let maxScale = number(row, .maxGuidanceScale, default: 3.0, fail: fail) { $0 > 100 ? "must be at most 100" : nil }
        if let minScale, let maxScale, maxScale < minScale {
            fail("max_guidance_scale \(maxScale) is below min_guidance_scale \(minScale) (need 0 ≤ min ≤ max)")
        }

        var format = defaults.format
        if let text = row[.format] {
            if let parsed = ClipFormat(rawValue: text.lowercased()) { format = parsed } else {
                fail("format '\(text)' is not one of \(ClipFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        var encoder: EncoderSettings?
        do { encoder = try EncoderSettings.standard(format, crf: format == .mkv ? nil : defaults.crf) } catch {
            fail("--crf: \(error)")
        }

        // Name: a plain file name; by default <image stem>-s<seed>.
        var name: String?
        if let given = row[.name] {
            if let problem = JobName.problem(given) { fail("name '\(given)' \(problem)") } else { name = given }
        } else if let image = row[.image], let seed {
            let derived = JobName.defaultName(image: image, seed: seed)
            if let problem = JobName.problem(derived) {
                fail("the default name '\(derived)' (image stem + seed) \(problem); add a name column")
            } else {
                name = derived
            }
        }

        var input: InputFacts?
        if let image = row[.image] {
            let url = image.hasPrefix("/") ? URL(fileURLWithPath: image) : csvFolder.appendingPathComponent(image)
            do { input = try inputs.facts(url) } catch { fail("image '\(image)': \(error)") }
        } else {
            fail("image is empty; every row needs the path of an input image (relative to the CSV's folder)")
        }

        let outputFileName = name.map { "\($0).\(format.fileExtension)" }
        guard reasons.isEmpty, let seed, let facts, let width, let height, let frames, let steps, let fps, let chunk,
              let bucket, let noise, let minScale, let maxScale, let encoder, let name, let input, let image = row[.image]
        else {
            return .failure(RowError(line: row.line, name: name, outputFileName: outputFileName, reasons: reasons))
        }
        let parameters = VideoParameters(seed: seed, numFrames: frames, width: width, height: height,
                                         numInferenceSteps: steps, fps: fps, motionBucketId: bucket,
                                         noiseAugStrength: noise, minGuidanceScale: minScale,
                                         maxGuidanceScale: maxScale, decodeChunkSize: chunk)
        do { try VideoPipeline.validate(parameters) } catch {
            return .failure(RowError(line: row.line, name: name, outputFileName: outputFileName, reasons: ["\(error)"]))
        }
        return .success(JobSpec(line: row.line, name: name, format: format, imageName: image, input: input,
                                model: facts, parameters: parameters, encoder: encoder))
    }

    /// An integer cell (optional sign), its default when empty, or nil after recording why it is unusable.
    private func integer(_ row: JobRow, _ column: JobColumn, default fallback: Int?, fail: (String) -> Void,
                         _ check: (Int) -> String?) -> Int? {
        guard let text = row[column] else { return fallback }
        guard let value = Int(text) else {
            fail("\(column.rawValue) '\(text)' is not an integer")
            return nil
        }
        if let problem = check(value) {
            fail("\(column.rawValue) \(value) \(problem)")
            return nil
        }
        return value
    }

    /// A decimal number cell, finite as a Float, its default when empty, or nil after recording why it is unusable.
    private func number(_ row: JobRow, _ column: JobColumn, default fallback: Double, fail: (String) -> Void,
                        _ check: (Double) -> String?) -> Double? {
        guard let text = row[column] else { return fallback }
        // The pipeline computes in Float: 1e39 is a finite Double but an infinite Float.
        guard let value = Double(text), value.isFinite, Float(value).isFinite else {
            fail("\(column.rawValue) '\(text)' is not a finite number")
            return nil
        }
        if let problem = check(value) {
            fail("\(column.rawValue) \(text) \(problem)")
            return nil
        }
        return value
    }
}
