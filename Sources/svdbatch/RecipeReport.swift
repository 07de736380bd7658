import Foundation
import SVDMedia

/// The readable form of a clip's recipe for `inspect`: grouped sections of aligned "label  value" lines.
struct RecipeReport {
    let recipe: Recipe
    let probe: ClipProbe
    /// The clip as the user named it.
    let name: String

    var text: String {
        var out = "\(name): svdbatch recipe (schema \(recipe.schema), written by svdbatch \(recipe.svdbatchVersion))\n"
        for section in sections where !section.rows.isEmpty {
            out += "\n\(section.title)\n"
            let width = section.rows.map(\.label.count).max() ?? 0
            for row in section.rows {
                out += "  " + row.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row.value + "\n"
            }
        }
        return out
    }

    private typealias Row = (label: String, value: String)

    private var sections: [(title: String, rows: [Row])] {
        let r = recipe, p = r.parameters, v = p.video, e = r.encoder, s = probe.stream
        let model: [Row] = [("name", r.model.name), ("variant", r.model.variant),
                            ("fingerprint", r.model.fingerprint.sha256)]
            + r.model.fingerprint.files.keys.sorted().enumerated().map { i, file in
                // Hash first: fixed width, so long file names do not stretch the label column.
                (i == 0 ? "files" : "", "\(r.model.fingerprint.files[file]!)  \(file)")
            }
        let input: [Row] = [("name", r.input.name), ("path", r.input.path),
                            ("size", "\(r.input.width)×\(r.input.height)"),
                            ("file sha256", r.input.fileSHA256), ("pixels sha256", r.input.pixelsSHA256)]
        let parameters: [Row] = [
            ("seed", "\(v.seed) (generator seed \(p.generatorSeed))"),
            ("width × height", "\(v.width)×\(v.height)"),
            ("num_frames", "\(v.numFrames)"),
            ("num_inference_steps", "\(v.numInferenceSteps)"),
            ("fps", "\(v.fps)"),
            ("motion_bucket_id", "\(v.motionBucketId)"),
            ("noise_aug_strength", "\(v.noiseAugStrength)"),
            ("min_guidance_scale", "\(v.minGuidanceScale)"),
            ("max_guidance_scale", "\(v.maxGuidanceScale)"),
            ("decode_chunk_size", "\(v.decodeChunkSize)"),
            ("noise source", p.noiseSource),
            ("precision", p.precision),
        ]
        let quality = e.crf.map { ", CRF \($0)" } ?? (e.isLossless ? ", lossless" : "")
        let output: [Row] = [
            ("format", "\(e.format.rawValue): \(e.codec) \(e.pixelFormat)\(quality)"),
            ("codec options", Self.options(e.codecOptions)),
            ("muxer options", Self.options(e.muxerOptions)),
            ("colour", "matrix \(e.color.matrix), primaries \(e.color.primaries), transfer \(e.color.transfer), "
                + "range \(e.color.range)"),
            ("scaler", e.scaler),
            ("stream", "\(s.codec) \(s.pixelFormat) \(s.width)×\(s.height), \(s.frameCount) frames at \(s.frameRate) fps, "
                + "\(s.isLossless ? "lossless" : "lossy"), \(Self.bytes(s.fileSize))"),
            ("stream colour", "matrix \(s.color.matrix), primaries \(s.color.primaries), transfer \(s.color.transfer), "
                + "range \(s.color.range)"),
        ]
        let keyCheck = (try? r.recomputedJobKey()) == r.jobKey ? "" : "  (does not match the recipe's contents)"
        let hashes: [Row] = [("frames sha256", r.framesSHA256), ("job key", r.jobKey + keyCheck)]
        var derivation: [Row] = []
        if let from = r.derivedFrom { derivation.append(("derived from", from)) }
        for key in (r.changes ?? [:]).keys.sorted() { derivation.append(("changed " + key, r.changes![key]!)) }
        let d = r.diagnostics
        var diagnostics: [Row] = [("cpu", d.cpu + (d.cpuVectorClass.map { " (\($0))" } ?? "")),
                                  ("BLAS", "OpenBLAS \(d.blasVersion ?? "(release not recorded)"), \(d.blasCore) kernels")]
        if let threads = d.threads { diagnostics.append(("threads", "\(threads)")) }
        return [("Model", model), ("Input", input), ("Parameters", parameters), ("Output", output),
                ("Hashes", hashes), ("Derivation", derivation), ("Diagnostics", diagnostics)]
    }

    private static func options(_ dict: [String: String]) -> String {
        dict.isEmpty ? "none" : dict.keys.sorted().map { "\($0)=\(dict[$0]!)" }.joined(separator: " ")
    }

    private static func bytes(_ n: Int) -> String {
        n < 1024 * 1024 ? String(format: "%.1f KB", Double(n) / 1024) : String(format: "%.1f MB", Double(n) / 1048576)
    }
}
