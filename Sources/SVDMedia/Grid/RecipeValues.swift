import Foundation
import SVDCore

/// Recipe values by the names people type in `--label`: parameter keys as in the CSV and recipe
/// (`seed`, `motion_bucket_id`, …), a few short aliases (`input`, `model`, `format`, `crf`), or any dotted
/// path into the recipe JSON (`encoder.codec`, `input.pixels_sha256`).
public struct RecipeValues: Sendable {
    public static let aliases: [String: String] = [
        "input": "input.name", "image": "input.name", "model": "model.name",
        "format": "encoder.format", "crf": "encoder.codec_options.crf",
    ]

    /// Parameter keys in the order labels list them: what people vary most first.
    static let parameterOrder = ["seed", "motion_bucket_id", "noise_aug_strength", "num_inference_steps",
                                 "min_guidance_scale", "max_guidance_scale", "fps", "num_frames", "width", "height",
                                 "decode_chunk_size", "noise_source", "precision"]

    /// Dotted path → value as text.
    private let values: [String: String]

    public init(_ recipe: Recipe) {
        var values: [String: String] = [:]
        // A Recipe always encodes; the fallback keeps this initialiser total.
        if let data = try? JSONEncoder().encode(recipe), let json = try? JSONValue.parse(data) {
            Self.flatten(json, prefix: "", into: &values)
        }
        self.values = values
    }

    /// The value of `key`: a parameter first, then an alias, then a dotted path; nil if the recipe has none.
    public func value(of key: String) -> String? {
        values["parameters." + key] ?? Self.aliases[key].flatMap { values[$0] } ?? values[key]
    }

    /// The parameter keys (seed, motion_bucket_id, …) in label order.
    public var parameterKeys: [String] {
        let present = values.keys.filter { $0.hasPrefix("parameters.") }.map { String($0.dropFirst(11)) }
        let known = Self.parameterOrder.filter(present.contains)
        return known + present.filter { !Self.parameterOrder.contains($0) }.sorted()
    }

    /// What labels show by default: the parameters (then input image and model) whose values are not the
    /// same in all `recipes`. The generator seed is left out: `seed` says the same.
    public static func differingKeys(_ recipes: [RecipeValues]) -> [String] {
        guard let first = recipes.first else { return [] }
        let candidates = first.parameterKeys.filter { $0 != "generator_seed" } + ["input", "model"]
        return candidates.filter { key in Set(recipes.map { $0.value(of: key) }).count > 1 }
    }

    /// "key=value" items for a label; "key=?" where this recipe lacks the key.
    public func labelItems(keys: [String]) -> [String] {
        keys.map { "\($0)=\(value(of: $0) ?? "?")" }
    }

    private static func flatten(_ json: JSONValue, prefix: String, into out: inout [String: String]) {
        switch json {
        case let .object(members):
            for (key, value) in members { flatten(value, prefix: prefix.isEmpty ? key : prefix + "." + key, into: &out) }
        case let .array(items):
            for (i, item) in items.enumerated() { flatten(item, prefix: "\(prefix).\(i)", into: &out) }
        case .null: out[prefix] = "null"
        case let .bool(b): out[prefix] = String(b)
        case let .int(i): out[prefix] = String(i)
        case let .double(d): out[prefix] = d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case let .string(s): out[prefix] = s
        }
    }
}
