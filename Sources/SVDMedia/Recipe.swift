import Foundation
import SVDCore

public struct ModelRecord: Codable, Hashable, Sendable {
    /// As the user gave it: a folder or a repository id.
    public var name: String
    /// The weight variant that was loaded (e.g. "fp16").
    public var variant: String
    public var fingerprint: ModelFingerprint

    public init(name: String, variant: String, fingerprint: ModelFingerprint) {
        self.name = name
        self.variant = variant
        self.fingerprint = fingerprint
    }
}

public struct InputRecord: Codable, Hashable, Sendable {
    /// As named in the job list.
    public var name: String
    /// Resolved absolute path.
    public var path: String
    public var fileSHA256: String
    /// SHA-256 of the decoded RGB24 pixels: survives a lossless re-save of the image.
    public var pixelsSHA256: String
    public var width: Int
    public var height: Int

    enum CodingKeys: String, CodingKey {
        case name, path, width, height
        case fileSHA256 = "file_sha256"
        case pixelsSHA256 = "pixels_sha256"
    }

    public init(name: String, path: String, fileSHA256: String, pixelsSHA256: String, width: Int, height: Int) {
        self.name = name
        self.path = path
        self.fileSHA256 = fileSHA256
        self.pixelsSHA256 = pixelsSHA256
        self.width = width
        self.height = height
    }

    /// Reads and decodes the image at `url` once, hashing the bytes read and the pixels decoded; records the
    /// symlink-resolved absolute path.
    public static func read(name: String, url: URL) throws -> (record: InputRecord, image: RGBImage) {
        let resolved = url.standardizedFileURL.resolvingSymlinksInPath()
        let (image, fileSHA256) = try ImageInput.loadHashed(path: url.path)
        let record = InputRecord(name: name, path: resolved.path, fileSHA256: fileSHA256,
                                 pixelsSHA256: Digests.sha256Hex(image.pixels), width: image.width, height: image.height)
        return (record, image)
    }
}

/// Every pipeline parameter (effective values), the generator's 32-bit seed, and how noise is made.
/// Encoded flat: the `VideoParameters` keys next to `generator_seed`, `noise_source` and `precision`.
public struct RenderParameters: Codable, Hashable, Sendable {
    public static let torchNoise = "torch-cpu-mt19937"
    public static let float32 = "float32"

    public var video: VideoParameters
    public var noiseSource: String
    public var precision: String
    /// The 32 bits of the seed the generator uses (2^32 + 5 renders as 5).
    public var generatorSeed: UInt32 { video.seed.generatorSeed }

    public init(_ video: VideoParameters, noiseSource: String = RenderParameters.torchNoise,
                precision: String = RenderParameters.float32) {
        self.video = video
        self.noiseSource = noiseSource
        self.precision = precision
    }

    enum ExtraKeys: String, CodingKey {
        case generatorSeed = "generator_seed"
        case noiseSource = "noise_source"
        case precision
    }

    public init(from decoder: Decoder) throws {
        video = try VideoParameters(from: decoder)
        let c = try decoder.container(keyedBy: ExtraKeys.self)
        noiseSource = try c.decode(String.self, forKey: .noiseSource)
        precision = try c.decode(String.self, forKey: .precision)
        let stored = try c.decode(UInt32.self, forKey: .generatorSeed)
        guard stored == video.seed.generatorSeed else {
            throw DecodingError.dataCorruptedError(
                forKey: .generatorSeed, in: c,
                debugDescription: "generator_seed \(stored) does not match seed \(video.seed) (→ \(video.seed.generatorSeed))")
        }
    }

    public func encode(to encoder: Encoder) throws {
        try video.encode(to: encoder)
        var c = encoder.container(keyedBy: ExtraKeys.self)
        try c.encode(generatorSeed, forKey: .generatorSeed)
        try c.encode(noiseSource, forKey: .noiseSource)
        try c.encode(precision, forKey: .precision)
    }
}

/// Everything needed to re-render a clip and to check the result, stored as JSON in the clip's `comment` tag.
public struct Recipe: Codable, Hashable, Sendable {
    /// Version of the recipe layout (the `"svdbatch"` key).
    public static let schemaVersion = 1
    public static let toolVersion = "0.1.0"

    public var schema: Int
    public var svdbatchVersion: String
    public var model: ModelRecord
    public var input: InputRecord
    public var parameters: RenderParameters
    public var encoder: EncoderSettings
    /// SHA-256 of the raw RGB24 frames in order, before encoding.
    public var framesSHA256: String
    /// See `jobKey(modelSHA256:inputPixelsSHA256:parameters:encoder:)`.
    public var jobKey: String
    public var diagnostics: RecipeDiagnostics
    /// For a clip re-rendered from another: the original's `frames_sha256`.
    public var derivedFrom: String?
    /// For a derived clip: what was changed, parameter → new value.
    public var changes: [String: String]?

    enum CodingKeys: String, CodingKey {
        case schema = "svdbatch"
        case svdbatchVersion = "svdbatch_version"
        case model, input, parameters, encoder, diagnostics, changes
        case framesSHA256 = "frames_sha256"
        case jobKey = "job_key"
        case derivedFrom = "derived_from"
    }

    /// A recipe for the current schema and tool version; the job key is computed from the contents.
    public init(model: ModelRecord, input: InputRecord, parameters: RenderParameters, encoder: EncoderSettings,
                framesSHA256: String, diagnostics: RecipeDiagnostics, derivedFrom: String? = nil,
                changes: [String: String]? = nil, svdbatchVersion: String = Recipe.toolVersion) throws {
        schema = Recipe.schemaVersion
        self.svdbatchVersion = svdbatchVersion
        self.model = model
        self.input = input
        self.parameters = parameters
        self.encoder = encoder
        self.framesSHA256 = framesSHA256
        self.diagnostics = diagnostics
        self.derivedFrom = derivedFrom
        self.changes = changes
        jobKey = try Recipe.jobKey(modelSHA256: model.fingerprint.sha256, inputPixelsSHA256: input.pixelsSHA256,
                                   parameters: parameters, encoder: encoder)
    }

    /// SHA-256 of the canonical JSON of exactly what determines a clip's frames and encoding: the model
    /// digest, the input's pixel hash, every effective pipeline parameter (with the 32-bit generator seed
    /// standing for the seed as written, since 2^32 + 5 and 5 render alike), noise source, precision and
    /// the encoder settings. Versions, paths, host and thread counts are left out on purpose, so the batch
    /// runner can tell before rendering whether an existing clip is still up to date.
    public static func jobKey(modelSHA256: String, inputPixelsSHA256: String, parameters: RenderParameters,
                              encoder: EncoderSettings) throws -> String {
        var params = try JSONValue.parse(JSONEncoder().encode(parameters)).objectValue ?? [:]
        params.removeValue(forKey: "seed")  // the seed as written; generator_seed stays
        let content: JSONValue = .object([
            "model_sha256": .string(modelSHA256),
            "input_pixels_sha256": .string(inputPixelsSHA256),
            "parameters": .object(params),
            "encoder": try JSONValue.parse(JSONEncoder().encode(encoder)),
        ])
        return Digests.sha256Hex(Data(CanonicalJSON.text(content).utf8))
    }

    /// The job key recomputed from this recipe's contents (differs from `jobKey` if the recipe was edited).
    public func recomputedJobKey() throws -> String {
        try Recipe.jobKey(modelSHA256: model.fingerprint.sha256, inputPixelsSHA256: input.pixelsSHA256,
                          parameters: parameters, encoder: encoder)
    }

    /// The JSON stored in clips: sorted keys, one line (ffprobe shows it unescaped); `pretty` for people.
    public func json(pretty: Bool = false) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                                          : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads the recipe from a clip's `comment` tag; `file` names the clip in errors.
    public static func decode(comment: String?, file: String) throws -> Recipe {
        guard let comment, !comment.isEmpty else { throw RecipeError.missing(path: file) }
        let data = Data(comment.utf8)
        let root: JSONValue
        do { root = try JSONValue.parse(data) } catch {
            // Broken JSON: a cut or hand-edited recipe (its "svdbatch" key sorts late, so a cut one may
            // not name itself); plain text is some other tool's comment.
            guard comment.drop(while: { $0.isWhitespace }).first == "{" else {
                throw RecipeError.notARecipe(path: file, reason: "its comment is not JSON")
            }
            throw RecipeError.damaged(path: file, reason: "the comment looks like a recipe but is not valid JSON (cut or edited?)")
        }
        guard let object = root.objectValue else {
            throw RecipeError.notARecipe(path: file, reason: "its comment is not a JSON object")
        }
        guard let version = object[CodingKeys.schema.stringValue] else {
            throw RecipeError.notARecipe(path: file, reason: "its comment has no \"svdbatch\" key")
        }
        guard let schema = version.intValue else {
            throw RecipeError.damaged(path: file, reason: "\"svdbatch\" is not a schema number")
        }
        guard schema <= schemaVersion else { throw RecipeError.unsupportedSchema(path: file, version: schema) }
        do {
            return try JSONDecoder().decode(Recipe.self, from: data)
        } catch let error as DecodingError {
            throw RecipeError.damaged(path: file, reason: describe(error))
        } catch {
            throw RecipeError.damaged(path: file, reason: String(describing: error))
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.isEmpty ? "the recipe" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, ctx): return "\(path(ctx.codingPath + [key])) is missing"
        case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx), let .dataCorrupted(ctx):
            return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return String(describing: error)
        }
    }
}

public enum RecipeError: Error, CustomStringConvertible, Equatable {
    /// The clip has no comment tag.
    case missing(path: String)
    /// The comment is something else (a JSON object without "svdbatch", or plain text).
    case notARecipe(path: String, reason: String)
    /// Written by a newer svdbatch.
    case unsupportedSchema(path: String, version: Int)
    /// The recipe is there but broken: a field missing or of the wrong type.
    case damaged(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missing(path): return "\(path) has no svdbatch recipe (no comment tag)"
        case let .notARecipe(path, reason): return "\(path) has no svdbatch recipe: \(reason)"
        case let .unsupportedSchema(path, version):
            return "\(path) has a recipe of schema \(version); this svdbatch reads up to \(Recipe.schemaVersion): upgrade it"
        case let .damaged(path, reason): return "\(path) has a damaged recipe: \(reason)"
        }
    }
}
