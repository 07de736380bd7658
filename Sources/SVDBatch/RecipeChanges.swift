import Foundation
import SVDMedia

/// What differs between the recipe of a clip on disk and the job that would now write the same file, as
/// "seed 1→101, motion_bucket_id 127→60": the reason a stale clip is rendered again, in the log and the manifest.
enum RecipeChanges {
    static func describe(recorded: Recipe, model: ModelRecord, input: InputFacts, parameters: RenderParameters,
                         encoder: EncoderSettings) -> String {
        var changes: [String] = []
        if recorded.model.fingerprint.sha256 != model.fingerprint.sha256 {
            changes.append(recorded.model.name == model.name
                ? "model \(model.name): its files changed" : "model \(recorded.model.name)→\(model.name)")
        }
        if recorded.input.pixelsSHA256 != input.pixelsSHA256 {
            changes.append(recorded.input.path == input.path
                ? "image \(input.path): its pixels changed" : "image \(recorded.input.path)→\(input.path)")
        }
        changes += fieldChanges(recorded.parameters, parameters, skipping: ["generator_seed"])
        changes += fieldChanges(recorded.encoder, encoder, skipping: [])
        return changes.isEmpty ? "the recipe differs (job_key \(recorded.jobKey.prefix(12))…)" : changes.joined(separator: ", ")
    }

    /// "key old→new" for each top-level JSON field that differs (nested values compared whole).
    static func fieldChanges<T: Encodable>(_ old: T, _ new: T, skipping: Set<String>) -> [String] {
        guard let a = object(old), let b = object(new) else { return [] }
        return Set(a.keys).union(b.keys).subtracting(skipping).sorted().compactMap { key in
            let before = text(a[key]), after = text(b[key])
            return before == after ? nil : "\(key) \(before)→\(after)"
        }
    }

    private static func object<T: Encodable>(_ value: T) -> [String: Any]? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    private static func text(_ value: Any?) -> String {
        guard let value else { return "none" }
        if let string = value as? String { return string }
        if JSONSerialization.isValidJSONObject(value),
           let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value)"
    }
}
