import Foundation
import SVDCore

// Typed views of the JSON configs of a diffusers SVD directory. Absent keys (and keys set to null)
// take the defaults of the diffusers/transformers class that reads the file; unknown keys are ignored. Every
// config is validated when it is built, so the networks and the manifest can index it without further checks.

/// A config file that cannot be used. Every case names the file and, where one is at fault, the JSON key.
public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case notAJSONObject(file: String, reason: String)
    case wrongType(file: String, key: String, expected: String, found: String)
    case invalidValue(file: String, key: String, reason: String)
    /// A valid setting this engine does not implement.
    case unsupported(file: String, key: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read config: \(reason)"
        case let .notAJSONObject(file, reason): return "\(file): not a JSON object: \(reason)"
        case let .wrongType(file, key, expected, found): return "\(file): key '\(key)' must be \(expected), found \(found)"
        case let .invalidValue(file, key, reason): return "\(file): key '\(key)': \(reason)"
        case let .unsupported(file, key, reason): return "\(file): key '\(key)': not supported by this engine: \(reason)"
        }
    }
}

/// Typed, defaulted access to one JSON object; errors name the file and the key.
struct ConfigReader {
    let file: String
    let object: [String: JSONValue]

    init(file: String, object: [String: JSONValue]) {
        self.file = file
        self.object = object
    }

    static func load(_ url: URL) throws -> ConfigReader {
        let data: Data
        do { data = try RegularFile.read(url, limit: 16 << 20) } catch let error as RegularFileError {
            throw ModelConfigError.unreadable(file: url.path, reason: error.reason)
        }
        return try parse(data, file: url.path)
    }

    static func parse(_ data: Data, file: String) throws -> ConfigReader {
        let value: JSONValue
        do { value = try JSONValue.parse(data) } catch {
            throw ModelConfigError.notAJSONObject(file: file, reason: "invalid JSON")
        }
        guard let object = value.objectValue else {
            throw ModelConfigError.notAJSONObject(file: file, reason: "the top level is \(Self.describe(value))")
        }
        return ConfigReader(file: file, object: object)
    }

    /// The value of a key; null counts as absent, as the Python classes then fall back to their defaults.
    func value(_ key: String) -> JSONValue? {
        guard let v = object[key], v != .null else { return nil }
        return v
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func wrongType(_ key: String, _ expected: String, _ found: JSONValue) -> ModelConfigError {
        .wrongType(file: file, key: key, expected: expected, found: Self.describe(found))
    }

    func invalid(_ key: String, _ reason: String) -> ModelConfigError { .invalidValue(file: file, key: key, reason: reason) }
    func unsupported(_ key: String, _ reason: String) -> ModelConfigError { .unsupported(file: file, key: key, reason: reason) }

    func int(_ key: String, default d: Int) throws -> Int {
        guard let v = value(key) else { return d }
        guard let i = v.intValue else { throw wrongType(key, "an integer", v) }
        return i
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else { throw wrongType(key, "an integer", v) }
        return i
    }

    func double(_ key: String, default d: Double) throws -> Double {
        try optionalDouble(key) ?? d
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let x = v.doubleValue else { throw wrongType(key, "a number", v) }
        return x
    }

    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = value(key) else { return d }
        guard let b = v.boolValue else { throw wrongType(key, "true or false", v) }
        return b
    }

    func string(_ key: String, default d: String) throws -> String {
        try optionalString(key) ?? d
    }

    func optionalString(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw wrongType(key, "a string", v) }
        return s
    }

    func strings(_ key: String, default d: [String]) throws -> [String] {
        guard let v = value(key) else { return d }
        guard let a = v.arrayValue else { throw wrongType(key, "a list of strings", v) }
        return try a.map { guard let s = $0.stringValue else { throw wrongType(key, "a list of strings", v) }; return s }
    }

    func ints(_ key: String, default d: [Int]) throws -> [Int] {
        guard let v = value(key) else { return d }
        guard let a = v.arrayValue else { throw wrongType(key, "a list of integers", v) }
        return try a.map { guard let i = $0.intValue else { throw wrongType(key, "a list of integers", v) }; return i }
    }

    func doubles(_ key: String, default d: [Double]) throws -> [Double] {
        guard let v = value(key) else { return d }
        guard let a = v.arrayValue else { throw wrongType(key, "a list of numbers", v) }
        return try a.map { guard let x = $0.doubleValue else { throw wrongType(key, "a list of numbers", v) }; return x }
    }

    /// diffusers' `Union[int, Tuple[int]]`: a single integer applies to every block, a list gives one per block.
    func perBlock(_ key: String, default d: [Int], blocks: Int) throws -> [Int] {
        guard let v = value(key) else { return d.count == 1 ? Array(repeating: d[0], count: blocks) : d }
        if let i = v.intValue { return Array(repeating: i, count: blocks) }
        if let a = v.arrayValue, a.contains(where: { $0.arrayValue != nil }) {
            throw unsupported(key, "nested per-layer lists are not supported; give one integer per block")
        }
        let list = try ints(key, default: d)
        guard list.count == blocks else {
            throw invalid(key, "has \(list.count) entries but there are \(blocks) blocks (one per down block)")
        }
        return list
    }

    /// Checks `_class_name` when the file carries one.
    func expectClass(_ accepted: [String], key: String = "_class_name") throws {
        guard let v = value(key) else { return }
        guard let name = v.stringValue else { throw wrongType(key, "a string", v) }
        guard accepted.contains(name) else {
            throw unsupported(key, "'\(name)' is not \(accepted.map { "'\($0)'" }.joined(separator: " or "))")
        }
    }

    func positive(_ key: String, _ value: Int) throws {
        guard value > 0 else { throw invalid(key, "must be positive, found \(value)") }
    }

    func positive(_ key: String, _ values: [Int]) throws {
        guard !values.isEmpty else { throw invalid(key, "must not be empty") }
        for v in values where v <= 0 { throw invalid(key, "entries must be positive, found \(v)") }
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case let .bool(b): return "\(b)"
        case let .int(i): return "the integer \(i)"
        case let .double(d): return "the number \(d)"
        case let .string(s): return "the string \"\(s)\""
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}

/// Shared checks so a hand-built config is held to the same rules as a decoded one.
private func requireGroupNormChannels(_ r: ConfigReader, _ key: String, _ channels: [Int]) throws {
    // Every block width feeds GroupNorm(32, C).
    for c in channels where c % 32 != 0 {
        throw r.invalid(key, "channel count \(c) is not divisible by the 32 GroupNorm groups")
    }
}

// MARK: - UNet

/// `unet/config.json` (`UNetSpatioTemporalConditionModel`).
public struct UNetConfig: Equatable, Sendable {
    public static let crossAttentionDownBlock = "CrossAttnDownBlockSpatioTemporal"
    public static let downBlock = "DownBlockSpatioTemporal"
    public static let crossAttentionUpBlock = "CrossAttnUpBlockSpatioTemporal"
    public static let upBlock = "UpBlockSpatioTemporal"

    public let inChannels: Int
    public let outChannels: Int
    public let blockOutChannels: [Int]
    public let downBlockTypes: [String]
    public let upBlockTypes: [String]
    /// Resnets per down block (up blocks have one more); one entry per block.
    public let layersPerBlock: [Int]
    /// Transformer layers in each attention of a block; one entry per down block (up blocks use them reversed,
    /// the mid block uses the last).
    public let transformerLayersPerBlock: [Int]
    /// Attention heads per down block (head dim = channels / heads); up blocks reversed, mid block the last.
    public let numAttentionHeads: [Int]
    /// Width of the image-embedding context every cross-attention reads.
    public let crossAttentionDim: Int
    public let additionTimeEmbedDim: Int
    public let projectionClassEmbeddingsInputDim: Int
    public let numFrames: Int
    public let sampleSize: Int?

    public var blockCount: Int { blockOutChannels.count }
    /// Width of the time embedding: 4 × the first block's channels.
    public var timeEmbedDim: Int { blockOutChannels[0] * 4 }
    public func downBlockHasAttention(_ i: Int) -> Bool { downBlockTypes[i] == Self.crossAttentionDownBlock }
    public func upBlockHasAttention(_ i: Int) -> Bool { upBlockTypes[i] == Self.crossAttentionUpBlock }

    /// Builds and validates a config; the defaults are diffusers' class defaults (the SVD values).
    public init(inChannels: Int = 8, outChannels: Int = 4, blockOutChannels: [Int] = [320, 640, 1280, 1280],
                downBlockTypes: [String] = [crossAttentionDownBlock, crossAttentionDownBlock, crossAttentionDownBlock, downBlock],
                upBlockTypes: [String] = [upBlock, crossAttentionUpBlock, crossAttentionUpBlock, crossAttentionUpBlock],
                layersPerBlock: [Int] = [2, 2, 2, 2], transformerLayersPerBlock: [Int] = [1, 1, 1, 1],
                numAttentionHeads: [Int] = [5, 10, 20, 20], crossAttentionDim: Int = 1024,
                additionTimeEmbedDim: Int = 256, projectionClassEmbeddingsInputDim: Int = 768,
                numFrames: Int = 25, sampleSize: Int? = nil) throws {
        try self.init(inChannels: inChannels, outChannels: outChannels, blockOutChannels: blockOutChannels,
                      downBlockTypes: downBlockTypes, upBlockTypes: upBlockTypes, layersPerBlock: layersPerBlock,
                      transformerLayersPerBlock: transformerLayersPerBlock, numAttentionHeads: numAttentionHeads,
                      crossAttentionDim: crossAttentionDim, additionTimeEmbedDim: additionTimeEmbedDim,
                      projectionClassEmbeddingsInputDim: projectionClassEmbeddingsInputDim, numFrames: numFrames,
                      sampleSize: sampleSize, reader: ConfigReader(file: "UNetConfig", object: [:]))
    }

    private init(inChannels: Int, outChannels: Int, blockOutChannels: [Int], downBlockTypes: [String],
                 upBlockTypes: [String], layersPerBlock: [Int], transformerLayersPerBlock: [Int],
                 numAttentionHeads: [Int], crossAttentionDim: Int, additionTimeEmbedDim: Int,
                 projectionClassEmbeddingsInputDim: Int, numFrames: Int, sampleSize: Int?, reader r: ConfigReader) throws {
        try r.positive("in_channels", inChannels)
        try r.positive("out_channels", outChannels)
        try r.positive("block_out_channels", blockOutChannels)
        try requireGroupNormChannels(r, "block_out_channels", blockOutChannels)
        let n = blockOutChannels.count
        for (key, count) in [("down_block_types", downBlockTypes.count), ("up_block_types", upBlockTypes.count),
                             ("layers_per_block", layersPerBlock.count),
                             ("transformer_layers_per_block", transformerLayersPerBlock.count),
                             ("num_attention_heads", numAttentionHeads.count)] where count != n {
            throw r.invalid(key, "has \(count) entries but block_out_channels has \(n)")
        }
        for t in downBlockTypes where t != Self.crossAttentionDownBlock && t != Self.downBlock {
            throw r.unsupported("down_block_types", "unknown block type '\(t)' (expected \(Self.crossAttentionDownBlock) or \(Self.downBlock))")
        }
        for t in upBlockTypes where t != Self.crossAttentionUpBlock && t != Self.upBlock {
            throw r.unsupported("up_block_types", "unknown block type '\(t)' (expected \(Self.crossAttentionUpBlock) or \(Self.upBlock))")
        }
        try r.positive("layers_per_block", layersPerBlock)
        try r.positive("transformer_layers_per_block", transformerLayersPerBlock)
        try r.positive("num_attention_heads", numAttentionHeads)
        // The transformers work at width heads × (C / heads), which must be C itself.
        for (c, heads) in zip(blockOutChannels, numAttentionHeads) where c % heads != 0 {
            throw r.invalid("num_attention_heads", "\(heads) heads do not divide \(c) channels")
        }
        try r.positive("cross_attention_dim", crossAttentionDim)
        try r.positive("addition_time_embed_dim", additionTimeEmbedDim)
        guard additionTimeEmbedDim % 2 == 0 else {
            throw r.invalid("addition_time_embed_dim", "must be even for the sinusoidal embedding, found \(additionTimeEmbedDim)")
        }
        // The pipeline passes three added time ids (fps − 1, motion bucket, noise augmentation).
        guard projectionClassEmbeddingsInputDim == 3 * additionTimeEmbedDim else {
            throw r.invalid("projection_class_embeddings_input_dim",
                            "must be 3 × addition_time_embed_dim = \(3 * additionTimeEmbedDim) (three added time ids), found \(projectionClassEmbeddingsInputDim)")
        }
        try r.positive("num_frames", numFrames)
        if let s = sampleSize { try r.positive("sample_size", s) }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.blockOutChannels = blockOutChannels
        self.downBlockTypes = downBlockTypes
        self.upBlockTypes = upBlockTypes
        self.layersPerBlock = layersPerBlock
        self.transformerLayersPerBlock = transformerLayersPerBlock
        self.numAttentionHeads = numAttentionHeads
        self.crossAttentionDim = crossAttentionDim
        self.additionTimeEmbedDim = additionTimeEmbedDim
        self.projectionClassEmbeddingsInputDim = projectionClassEmbeddingsInputDim
        self.numFrames = numFrames
        self.sampleSize = sampleSize
    }

    public static func load(from url: URL) throws -> UNetConfig { try UNetConfig(ConfigReader.load(url)) }

    /// The same network with another default frame count (SVD and SVD-XT differ only there).
    public func withNumFrames(_ frames: Int) throws -> UNetConfig {
        try UNetConfig(inChannels: inChannels, outChannels: outChannels, blockOutChannels: blockOutChannels,
                       downBlockTypes: downBlockTypes, upBlockTypes: upBlockTypes, layersPerBlock: layersPerBlock,
                       transformerLayersPerBlock: transformerLayersPerBlock, numAttentionHeads: numAttentionHeads,
                       crossAttentionDim: crossAttentionDim, additionTimeEmbedDim: additionTimeEmbedDim,
                       projectionClassEmbeddingsInputDim: projectionClassEmbeddingsInputDim, numFrames: frames,
                       sampleSize: sampleSize)
    }

    public static func decode(_ data: Data, file: String = "unet/config.json") throws -> UNetConfig {
        try UNetConfig(ConfigReader.parse(data, file: file))
    }

    init(_ r: ConfigReader) throws {
        try r.expectClass(["UNetSpatioTemporalConditionModel"])
        let d = try UNetConfig()
        let blocks = try r.ints("block_out_channels", default: d.blockOutChannels)
        try r.positive("block_out_channels", blocks)
        let cross = try r.perBlock("cross_attention_dim", default: [d.crossAttentionDim], blocks: blocks.count)
        // One context tensor of one width feeds every block, so per-block widths must agree.
        guard Set(cross).count == 1 else {
            throw r.unsupported("cross_attention_dim", "per-block widths \(cross) differ; the image embedding has one width")
        }
        // diffusers' `sample_size` may also be a [height, width] pair; a square one is accepted as its side.
        var sampleSize: Int? = nil
        if let v = r.value("sample_size") {
            if let side = v.intValue {
                sampleSize = side
            } else if let pair = v.arrayValue, pair.count == 2, let h = pair[0].intValue, pair[1].intValue == h {
                sampleSize = h
            } else {
                throw r.wrongType("sample_size", "an integer or a square [height, width] pair", v)
            }
        }
        try self.init(
            inChannels: r.int("in_channels", default: d.inChannels),
            outChannels: r.int("out_channels", default: d.outChannels),
            blockOutChannels: blocks,
            downBlockTypes: r.strings("down_block_types", default: d.downBlockTypes),
            upBlockTypes: r.strings("up_block_types", default: d.upBlockTypes),
            layersPerBlock: r.perBlock("layers_per_block", default: [2], blocks: blocks.count),
            transformerLayersPerBlock: r.perBlock("transformer_layers_per_block", default: [1], blocks: blocks.count),
            numAttentionHeads: r.perBlock("num_attention_heads", default: d.numAttentionHeads, blocks: blocks.count),
            crossAttentionDim: cross[0],
            additionTimeEmbedDim: r.int("addition_time_embed_dim", default: d.additionTimeEmbedDim),
            projectionClassEmbeddingsInputDim: r.int("projection_class_embeddings_input_dim",
                                                     default: d.projectionClassEmbeddingsInputDim),
            numFrames: r.int("num_frames", default: d.numFrames),
            sampleSize: sampleSize, reader: r)
    }
}

// MARK: - VAE

/// `vae/config.json` (`AutoencoderKLTemporalDecoder`).
public struct VAEConfig: Equatable, Sendable {
    public static let downEncoderBlock = "DownEncoderBlock2D"

    public let inChannels: Int
    public let outChannels: Int
    public let downBlockTypes: [String]
    public let blockOutChannels: [Int]
    /// Resnets per encoder block; the decoder's up blocks have one more, its mid block this many.
    public let layersPerBlock: Int
    public let latentChannels: Int
    /// Latents are multiplied by this after encoding for the UNet and divided by it before decoding.
    public let scalingFactor: Double
    /// diffusers runs the encoder in float32 in fp16 pipelines when set; a float32 engine ignores it.
    public let forceUpcast: Bool
    public let sampleSize: Int?

    /// Builds and validates a config. The defaults are the class defaults in diffusers, which are *not* the SVD
    /// values (SVD: block_out_channels [128, 256, 512, 512], 4 down blocks, layers_per_block 2).
    public init(inChannels: Int = 3, outChannels: Int = 3, downBlockTypes: [String] = [downEncoderBlock],
                blockOutChannels: [Int] = [64], layersPerBlock: Int = 1, latentChannels: Int = 4,
                scalingFactor: Double = 0.18215, forceUpcast: Bool = true, sampleSize: Int? = 32) throws {
        try self.init(inChannels: inChannels, outChannels: outChannels, downBlockTypes: downBlockTypes,
                      blockOutChannels: blockOutChannels, layersPerBlock: layersPerBlock, latentChannels: latentChannels,
                      scalingFactor: scalingFactor, forceUpcast: forceUpcast, sampleSize: sampleSize,
                      reader: ConfigReader(file: "VAEConfig", object: [:]))
    }

    private init(inChannels: Int, outChannels: Int, downBlockTypes: [String], blockOutChannels: [Int],
                 layersPerBlock: Int, latentChannels: Int, scalingFactor: Double, forceUpcast: Bool,
                 sampleSize: Int?, reader r: ConfigReader) throws {
        try r.positive("in_channels", inChannels)
        try r.positive("out_channels", outChannels)
        try r.positive("block_out_channels", blockOutChannels)
        try requireGroupNormChannels(r, "block_out_channels", blockOutChannels)
        guard downBlockTypes.count == blockOutChannels.count else {
            throw r.invalid("down_block_types", "has \(downBlockTypes.count) entries but block_out_channels has \(blockOutChannels.count)")
        }
        for t in downBlockTypes where t != Self.downEncoderBlock {
            throw r.unsupported("down_block_types", "unknown block type '\(t)' (expected \(Self.downEncoderBlock))")
        }
        try r.positive("layers_per_block", layersPerBlock)
        try r.positive("latent_channels", latentChannels)
        guard scalingFactor.isFinite, scalingFactor > 0 else {
            throw r.invalid("scaling_factor", "must be a positive number, found \(scalingFactor)")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.downBlockTypes = downBlockTypes
        self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock
        self.latentChannels = latentChannels
        self.scalingFactor = scalingFactor
        self.forceUpcast = forceUpcast
        self.sampleSize = sampleSize
    }

    public static func load(from url: URL) throws -> VAEConfig { try VAEConfig(ConfigReader.load(url)) }

    public static func decode(_ data: Data, file: String = "vae/config.json") throws -> VAEConfig {
        try VAEConfig(ConfigReader.parse(data, file: file))
    }

    init(_ r: ConfigReader) throws {
        try r.expectClass(["AutoencoderKLTemporalDecoder"])
        let d = try VAEConfig()
        // Informational only, so a [height, width] pair is not an error.
        let sampleSize = r.has("sample_size") ? r.value("sample_size")?.intValue : d.sampleSize
        try self.init(
            inChannels: r.int("in_channels", default: d.inChannels),
            outChannels: r.int("out_channels", default: d.outChannels),
            downBlockTypes: r.strings("down_block_types", default: d.downBlockTypes),
            blockOutChannels: r.ints("block_out_channels", default: d.blockOutChannels),
            layersPerBlock: r.int("layers_per_block", default: d.layersPerBlock),
            latentChannels: r.int("latent_channels", default: d.latentChannels),
            scalingFactor: r.double("scaling_factor", default: d.scalingFactor),
            forceUpcast: r.bool("force_upcast", default: d.forceUpcast),
            sampleSize: sampleSize,
            reader: r)
    }
}

// MARK: - CLIP vision tower

/// The MLP activation of the CLIP encoder layers.
public enum CLIPActivation: String, Equatable, Sendable {
    /// Exact erf GELU (what SVD's ViT-H/14 uses).
    case gelu
    /// x · sigmoid(1.702 x), the transformers default.
    case quickGELU = "quick_gelu"
}

/// `image_encoder/config.json` (transformers `CLIPVisionConfig`, for `CLIPVisionModelWithProjection`).
public struct CLIPVisionConfig: Equatable, Sendable {
    public let hiddenSize: Int
    public let intermediateSize: Int
    public let numHiddenLayers: Int
    public let numAttentionHeads: Int
    public let patchSize: Int
    public let imageSize: Int
    public let numChannels: Int
    public let projectionDim: Int
    public let hiddenAct: CLIPActivation
    public let layerNormEps: Double

    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// Patches per side.
    public var gridSize: Int { imageSize / patchSize }
    /// Tokens: one per patch plus the class token.
    public var numPositions: Int { gridSize * gridSize + 1 }

    /// Builds and validates a config. The defaults are transformers' class defaults (ViT-B/32-like, with
    /// quick_gelu), *not* the SVD values.
    public init(hiddenSize: Int = 768, intermediateSize: Int = 3072, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 12, patchSize: Int = 32, imageSize: Int = 224, numChannels: Int = 3,
                projectionDim: Int = 512, hiddenAct: CLIPActivation = .quickGELU, layerNormEps: Double = 1e-5) throws {
        try self.init(hiddenSize: hiddenSize, intermediateSize: intermediateSize, numHiddenLayers: numHiddenLayers,
                      numAttentionHeads: numAttentionHeads, patchSize: patchSize, imageSize: imageSize,
                      numChannels: numChannels, projectionDim: projectionDim, hiddenAct: hiddenAct,
                      layerNormEps: layerNormEps, reader: ConfigReader(file: "CLIPVisionConfig", object: [:]))
    }

    private init(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                 patchSize: Int, imageSize: Int, numChannels: Int, projectionDim: Int, hiddenAct: CLIPActivation,
                 layerNormEps: Double, reader r: ConfigReader) throws {
        for (key, v) in [("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                         ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                         ("patch_size", patchSize), ("image_size", imageSize), ("num_channels", numChannels),
                         ("projection_dim", projectionDim)] {
            try r.positive(key, v)
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw r.invalid("num_attention_heads", "\(numAttentionHeads) heads do not divide hidden_size \(hiddenSize)")
        }
        guard imageSize % patchSize == 0 else {
            throw r.invalid("patch_size", "\(patchSize) does not divide image_size \(imageSize)")
        }
        guard layerNormEps.isFinite, layerNormEps > 0 else {
            throw r.invalid("layer_norm_eps", "must be a positive number, found \(layerNormEps)")
        }
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.patchSize = patchSize
        self.imageSize = imageSize
        self.numChannels = numChannels
        self.projectionDim = projectionDim
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
    }

    public static func load(from url: URL) throws -> CLIPVisionConfig { try CLIPVisionConfig(ConfigReader.load(url)) }

    public static func decode(_ data: Data, file: String = "image_encoder/config.json") throws -> CLIPVisionConfig {
        try CLIPVisionConfig(ConfigReader.parse(data, file: file))
    }

    init(_ top: ConfigReader) throws {
        // A full CLIPConfig nests the vision settings under "vision_config".
        var r = top
        if let nested = top.value("vision_config") {
            guard let object = nested.objectValue else { throw top.wrongType("vision_config", "an object", nested) }
            r = ConfigReader(file: top.file, object: object)
        }
        if let type = try r.optionalString("model_type"), !["clip_vision_model", "clip"].contains(type) {
            throw r.unsupported("model_type", "'\(type)' is not a CLIP vision model (expected 'clip_vision_model')")
        }
        let d = try CLIPVisionConfig()
        let actName = try r.string("hidden_act", default: d.hiddenAct.rawValue)
        guard let act = CLIPActivation(rawValue: actName) else {
            throw r.unsupported("hidden_act", "'\(actName)' (supported: 'gelu', 'quick_gelu')")
        }
        try self.init(
            hiddenSize: r.int("hidden_size", default: d.hiddenSize),
            intermediateSize: r.int("intermediate_size", default: d.intermediateSize),
            numHiddenLayers: r.int("num_hidden_layers", default: d.numHiddenLayers),
            numAttentionHeads: r.int("num_attention_heads", default: d.numAttentionHeads),
            patchSize: r.int("patch_size", default: d.patchSize),
            imageSize: r.int("image_size", default: d.imageSize),
            numChannels: r.int("num_channels", default: d.numChannels),
            // A nested CLIPConfig keeps projection_dim at the top level.
            projectionDim: r.optionalInt("projection_dim") ?? top.int("projection_dim", default: d.projectionDim),
            hiddenAct: act,
            layerNormEps: r.double("layer_norm_eps", default: d.layerNormEps),
            reader: r)
    }
}

// MARK: - Scheduler

/// `scheduler/scheduler_config.json` (`EulerDiscreteScheduler`). The engine implements the scheduler exactly as
/// SVD configures it: Karras sigmas between explicit `sigma_min`/`sigma_max`, continuous
/// v-prediction timesteps and a final sigma of zero. Any other setting that would change the sampling is refused
/// when the config is read, rather than silently ignored.
public struct SchedulerConfig: Equatable, Sendable {
    /// `timestep_spacing`. Under Karras sigmas it only decides the initial noise scale.
    public enum TimestepSpacing: String, Equatable, Sendable {
        case leading, linspace, trailing

        /// Whether the initial noise is scaled by √(σ_max² + 1) (true) or by σ_max itself.
        public var initNoiseIncludesUnitVariance: Bool { self == .leading }
    }

    public let numTrainTimesteps: Int
    public let betaStart: Double
    public let betaEnd: Double
    public let betaSchedule: String
    /// Always "v_prediction" (validated).
    public let predictionType: String
    /// Always "continuous" (validated): timesteps are 0.25 · ln σ.
    public let timestepType: String
    /// Always true (validated).
    public let useKarrasSigmas: Bool
    public let sigmaMin: Double
    public let sigmaMax: Double
    public let timestepSpacing: TimestepSpacing
    /// Always "zero" (validated).
    public let finalSigmasType: String
    public let stepsOffset: Int
    public let interpolationType: String

    /// The SVD scheduler.
    public static let svd = try! SchedulerConfig(sigmaMin: 0.002, sigmaMax: 700, timestepSpacing: .leading)

    /// A config the engine can run. Settings with no effect under Karras sigmas are kept for reference only.
    public init(sigmaMin: Double, sigmaMax: Double, timestepSpacing: TimestepSpacing = .leading,
                numTrainTimesteps: Int = 1000, betaStart: Double = 0.00085, betaEnd: Double = 0.012,
                betaSchedule: String = "scaled_linear", stepsOffset: Int = 1, interpolationType: String = "linear") throws {
        try self.init(sigmaMin: sigmaMin, sigmaMax: sigmaMax, timestepSpacing: timestepSpacing,
                      numTrainTimesteps: numTrainTimesteps, betaStart: betaStart, betaEnd: betaEnd,
                      betaSchedule: betaSchedule, stepsOffset: stepsOffset, interpolationType: interpolationType,
                      reader: ConfigReader(file: "SchedulerConfig", object: [:]))
    }

    private init(sigmaMin: Double, sigmaMax: Double, timestepSpacing: TimestepSpacing, numTrainTimesteps: Int,
                 betaStart: Double, betaEnd: Double, betaSchedule: String, stepsOffset: Int,
                 interpolationType: String, reader r: ConfigReader) throws {
        guard sigmaMin.isFinite, sigmaMin > 0 else { throw r.invalid("sigma_min", "must be a positive number, found \(sigmaMin)") }
        guard sigmaMax.isFinite, sigmaMax > sigmaMin else {
            throw r.invalid("sigma_max", "must be a number above sigma_min (\(sigmaMin)), found \(sigmaMax)")
        }
        try r.positive("num_train_timesteps", numTrainTimesteps)
        self.numTrainTimesteps = numTrainTimesteps
        self.betaStart = betaStart
        self.betaEnd = betaEnd
        self.betaSchedule = betaSchedule
        predictionType = "v_prediction"
        timestepType = "continuous"
        useKarrasSigmas = true
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        self.timestepSpacing = timestepSpacing
        finalSigmasType = "zero"
        self.stepsOffset = stepsOffset
        self.interpolationType = interpolationType
    }

    public static func load(from url: URL) throws -> SchedulerConfig { try SchedulerConfig(ConfigReader.load(url)) }

    public static func decode(_ data: Data, file: String = "scheduler/scheduler_config.json") throws -> SchedulerConfig {
        try SchedulerConfig(ConfigReader.parse(data, file: file))
    }

    init(_ r: ConfigReader) throws {
        try r.expectClass(["EulerDiscreteScheduler"])
        // Defaults are diffusers' EulerDiscreteScheduler defaults; several of them are refused below.
        let prediction = try r.string("prediction_type", default: "epsilon")
        guard prediction == "v_prediction" else {
            throw r.unsupported("prediction_type", "'\(prediction)'\(r.has("prediction_type") ? "" : " (the default when the key is absent)"); only 'v_prediction' (SVD) is implemented")
        }
        let timestepType = try r.string("timestep_type", default: "discrete")
        guard timestepType == "continuous" else {
            throw r.unsupported("timestep_type", "'\(timestepType)'\(r.has("timestep_type") ? "" : " (the default when the key is absent)"); only 'continuous' (SVD) is implemented")
        }
        guard try r.bool("use_karras_sigmas", default: false) else {
            throw r.unsupported("use_karras_sigmas", "must be true; only the Karras sigma schedule (SVD) is implemented")
        }
        for key in ["use_exponential_sigmas", "use_beta_sigmas"] where try r.bool(key, default: false) {
            throw r.unsupported(key, "must be false; only the Karras sigma schedule (SVD) is implemented")
        }
        let finalSigmas = try r.string("final_sigmas_type", default: "zero")
        guard finalSigmas == "zero" else {
            throw r.unsupported("final_sigmas_type", "'\(finalSigmas)'; only 'zero' (SVD) is implemented")
        }
        // Without explicit endpoints diffusers derives them from the training betas; this engine needs them given.
        guard let sigmaMin = try r.optionalDouble("sigma_min") else {
            throw r.unsupported("sigma_min", "is absent; the Karras schedule needs explicit sigma_min and sigma_max (SVD: 0.002 and 700.0)")
        }
        guard let sigmaMax = try r.optionalDouble("sigma_max") else {
            throw r.unsupported("sigma_max", "is absent; the Karras schedule needs explicit sigma_min and sigma_max (SVD: 0.002 and 700.0)")
        }
        let spacingName = try r.string("timestep_spacing", default: "linspace")
        guard let spacing = TimestepSpacing(rawValue: spacingName) else {
            throw r.invalid("timestep_spacing", "'\(spacingName)' is not 'leading', 'linspace' or 'trailing'")
        }
        try self.init(sigmaMin: sigmaMin, sigmaMax: sigmaMax, timestepSpacing: spacing,
                      numTrainTimesteps: r.int("num_train_timesteps", default: 1000),
                      betaStart: r.double("beta_start", default: 0.0001),
                      betaEnd: r.double("beta_end", default: 0.02),
                      betaSchedule: r.string("beta_schedule", default: "linear"),
                      stepsOffset: r.int("steps_offset", default: 0),
                      interpolationType: r.string("interpolation_type", default: "linear"),
                      reader: r)
    }
}

// MARK: - Feature extractor

/// `feature_extractor/preprocessor_config.json` (`CLIPImageProcessor`). The pipeline overrides resizing,
/// cropping and rescaling, so only the normalisation constants are read.
public struct FeatureExtractorConfig: Equatable, Sendable {
    public static let openAICLIPMean = [0.48145466, 0.4578275, 0.40821073]
    public static let openAICLIPStd = [0.26862954, 0.26130258, 0.27577711]

    /// Per-channel mean and standard deviation (RGB) applied after scaling pixels to [0, 1].
    public let imageMean: [Double]
    public let imageStd: [Double]

    public init(imageMean: [Double] = openAICLIPMean, imageStd: [Double] = openAICLIPStd) throws {
        try self.init(imageMean: imageMean, imageStd: imageStd,
                      reader: ConfigReader(file: "FeatureExtractorConfig", object: [:]))
    }

    private init(imageMean: [Double], imageStd: [Double], reader r: ConfigReader) throws {
        guard imageMean.count == 3, imageMean.allSatisfy(\.isFinite) else {
            throw r.invalid("image_mean", "needs three finite numbers (R, G, B), found \(imageMean)")
        }
        guard imageStd.count == 3, imageStd.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw r.invalid("image_std", "needs three positive numbers (R, G, B), found \(imageStd)")
        }
        self.imageMean = imageMean
        self.imageStd = imageStd
    }

    public static func load(from url: URL) throws -> FeatureExtractorConfig { try FeatureExtractorConfig(ConfigReader.load(url)) }

    public static func decode(_ data: Data, file: String = "feature_extractor/preprocessor_config.json") throws -> FeatureExtractorConfig {
        try FeatureExtractorConfig(ConfigReader.parse(data, file: file))
    }

    init(_ r: ConfigReader) throws {
        // transformers also accepts a single number for every channel.
        func triple(_ key: String, _ d: [Double]) throws -> [Double] {
            if let x = r.value(key)?.doubleValue { return [x, x, x] }
            return try r.doubles(key, default: d)
        }
        try self.init(imageMean: triple("image_mean", Self.openAICLIPMean),
                      imageStd: triple("image_std", Self.openAICLIPStd), reader: r)
    }
}

// MARK: - model_index.json

/// `model_index.json`: the pipeline class and the library/class of each component.
public struct ModelIndex: Equatable, Sendable {
    public struct Component: Equatable, Sendable {
        public let library: String
        public let className: String
    }

    public static let pipelineClass = "StableVideoDiffusionPipeline"
    /// Component → class names this engine can stand in for.
    public static let acceptedClasses: [String: [String]] = [
        "feature_extractor": ["CLIPImageProcessor", "CLIPImageProcessorFast", "CLIPFeatureExtractor"],
        "image_encoder": ["CLIPVisionModelWithProjection"],
        "scheduler": ["EulerDiscreteScheduler"],
        "unet": ["UNetSpatioTemporalConditionModel"],
        "vae": ["AutoencoderKLTemporalDecoder"],
    ]

    public let className: String
    public let diffusersVersion: String?
    public let components: [String: Component]

    public static func load(from url: URL) throws -> ModelIndex { try ModelIndex(ConfigReader.load(url)) }

    /// The pipeline every SVD model in diffusers layout declares (a single checkpoint file has no index).
    public static let stableVideoDiffusion = try! ModelIndex.decode(Data("""
        {"_class_name": "StableVideoDiffusionPipeline", "feature_extractor": ["transformers", "CLIPImageProcessor"],
         "image_encoder": ["transformers", "CLIPVisionModelWithProjection"], "scheduler": ["diffusers", "EulerDiscreteScheduler"],
         "unet": ["diffusers", "UNetSpatioTemporalConditionModel"], "vae": ["diffusers", "AutoencoderKLTemporalDecoder"]}
        """.utf8))

    public static func decode(_ data: Data, file: String = "model_index.json") throws -> ModelIndex {
        try ModelIndex(ConfigReader.parse(data, file: file))
    }

    init(_ r: ConfigReader) throws {
        guard let name = try r.optionalString("_class_name") else {
            throw r.invalid("_class_name", "is missing; expected '\(Self.pipelineClass)'")
        }
        guard name == Self.pipelineClass else {
            throw r.unsupported("_class_name", "'\(name)' is not '\(Self.pipelineClass)'")
        }
        var components: [String: Component] = [:]
        for key in Self.acceptedClasses.keys.sorted() {
            guard let v = r.value(key) else {
                throw r.invalid(key, "component is missing; a \(Self.pipelineClass) needs \(Self.acceptedClasses.keys.sorted().joined(separator: ", "))")
            }
            guard let pair = v.arrayValue, pair.count == 2, let library = pair[0].stringValue,
                  let cls = pair[1].stringValue else {
                throw r.wrongType(key, "a [library, class] pair of strings", v)
            }
            guard Self.acceptedClasses[key]!.contains(cls) else {
                throw r.unsupported(key, "class '\(cls)' (expected \(Self.acceptedClasses[key]!.joined(separator: " or ")))")
            }
            components[key] = Component(library: library, className: cls)
        }
        className = name
        diffusersVersion = try r.optionalString("_diffusers_version")
        self.components = components
    }
}
