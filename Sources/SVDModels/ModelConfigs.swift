import Foundation
import SVDCore

// The configs of the three networks. Decoding fills absent keys with the defaults of the diffusers/transformers
// class that reads the file; `validate()` then holds decoded and hand-built configs to the same rules, so the
// networks and the manifest can index a config without further checks.

// MARK: - UNet

/// `unet/config.json` (`UNetSpatioTemporalConditionModel`).
public struct UNetConfig: ModelConfigFile {
    public static let fileName = "unet/config.json"
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

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", blockOutChannels = "block_out_channels"
        case downBlockTypes = "down_block_types", upBlockTypes = "up_block_types", layersPerBlock = "layers_per_block"
        case transformerLayersPerBlock = "transformer_layers_per_block", numAttentionHeads = "num_attention_heads"
        case crossAttentionDim = "cross_attention_dim", additionTimeEmbedDim = "addition_time_embed_dim"
        case projectionClassEmbeddingsInputDim = "projection_class_embeddings_input_dim"
        case numFrames = "num_frames", sampleSize = "sample_size"
    }

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
        _ = try validated(as: "UNetConfig")
    }

    /// The same network with another default frame count (SVD and SVD-XT differ only there).
    public func withNumFrames(_ frames: Int) throws -> UNetConfig {
        try UNetConfig(inChannels: inChannels, outChannels: outChannels, blockOutChannels: blockOutChannels,
                       downBlockTypes: downBlockTypes, upBlockTypes: upBlockTypes, layersPerBlock: layersPerBlock,
                       transformerLayersPerBlock: transformerLayersPerBlock, numAttentionHeads: numAttentionHeads,
                       crossAttentionDim: crossAttentionDim, additionTimeEmbedDim: additionTimeEmbedDim,
                       projectionClassEmbeddingsInputDim: projectionClassEmbeddingsInputDim, numFrames: frames,
                       sampleSize: sampleSize)
    }

    public init(from decoder: Decoder) throws {
        try ConfigKey.expectClass(["UNetSpatioTemporalConditionModel"], in: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = try UNetConfig()
        blockOutChannels = try c.ints(.blockOutChannels) ?? d.blockOutChannels
        try ConfigRules.positive(CodingKeys.blockOutChannels.rawValue, blockOutChannels)
        let blocks = blockOutChannels.count
        let cross = try c.perBlock(.crossAttentionDim, blocks: blocks) ?? [d.crossAttentionDim]
        // One context tensor of one width feeds every block, so per-block widths must agree.
        guard Set(cross).count == 1 else {
            throw ConfigKeyError.unsupported(CodingKeys.crossAttentionDim.rawValue,
                                             "per-block widths \(cross) differ; the image embedding has one width")
        }
        crossAttentionDim = cross[0]
        // diffusers' `sample_size` may also be a [height, width] pair; a square one is accepted as its side.
        if let v = try c.json(.sampleSize), v.intValue == nil {
            guard let pair = v.arrayValue, pair.count == 2, let h = pair[0].intValue, pair[1].intValue == h else {
                throw ConfigKeyError.wrongType(CodingKeys.sampleSize.rawValue, "an integer or a square [height, width] pair", v)
            }
            sampleSize = h
        } else {
            sampleSize = try c.int(.sampleSize)
        }
        inChannels = try c.int(.inChannels) ?? d.inChannels
        outChannels = try c.int(.outChannels) ?? d.outChannels
        downBlockTypes = try c.strings(.downBlockTypes) ?? d.downBlockTypes
        upBlockTypes = try c.strings(.upBlockTypes) ?? d.upBlockTypes
        layersPerBlock = try c.perBlock(.layersPerBlock, blocks: blocks) ?? Array(repeating: 2, count: blocks)
        transformerLayersPerBlock = try c.perBlock(.transformerLayersPerBlock, blocks: blocks) ?? Array(repeating: 1, count: blocks)
        numAttentionHeads = try c.perBlock(.numAttentionHeads, blocks: blocks) ?? d.numAttentionHeads
        additionTimeEmbedDim = try c.int(.additionTimeEmbedDim) ?? d.additionTimeEmbedDim
        projectionClassEmbeddingsInputDim = try c.int(.projectionClassEmbeddingsInputDim) ?? d.projectionClassEmbeddingsInputDim
        numFrames = try c.int(.numFrames) ?? d.numFrames
    }

    public func validate() throws {
        try ConfigRules.positive("in_channels", inChannels)
        try ConfigRules.positive("out_channels", outChannels)
        try ConfigRules.positive("block_out_channels", blockOutChannels)
        try ConfigRules.groupNormChannels("block_out_channels", blockOutChannels)
        let n = blockOutChannels.count
        for (key, count) in [("down_block_types", downBlockTypes.count), ("up_block_types", upBlockTypes.count),
                             ("layers_per_block", layersPerBlock.count),
                             ("transformer_layers_per_block", transformerLayersPerBlock.count),
                             ("num_attention_heads", numAttentionHeads.count)] where count != n {
            throw ConfigKeyError.invalid(key, "has \(count) entries but block_out_channels has \(n)")
        }
        for t in downBlockTypes where t != Self.crossAttentionDownBlock && t != Self.downBlock {
            throw ConfigKeyError.unsupported("down_block_types", "unknown block type '\(t)' (expected \(Self.crossAttentionDownBlock) or \(Self.downBlock))")
        }
        for t in upBlockTypes where t != Self.crossAttentionUpBlock && t != Self.upBlock {
            throw ConfigKeyError.unsupported("up_block_types", "unknown block type '\(t)' (expected \(Self.crossAttentionUpBlock) or \(Self.upBlock))")
        }
        try ConfigRules.positive("layers_per_block", layersPerBlock)
        try ConfigRules.positive("transformer_layers_per_block", transformerLayersPerBlock)
        try ConfigRules.positive("num_attention_heads", numAttentionHeads)
        // The transformers work at width heads × (C / heads), which must be C itself.
        for (c, heads) in zip(blockOutChannels, numAttentionHeads) where c % heads != 0 {
            throw ConfigKeyError.invalid("num_attention_heads", "\(heads) heads do not divide \(c) channels")
        }
        try ConfigRules.positive("cross_attention_dim", crossAttentionDim)
        try ConfigRules.positive("addition_time_embed_dim", additionTimeEmbedDim)
        guard additionTimeEmbedDim % 2 == 0 else {
            throw ConfigKeyError.invalid("addition_time_embed_dim", "must be even for the sinusoidal embedding, found \(additionTimeEmbedDim)")
        }
        // The pipeline passes three added time ids (fps − 1, motion bucket, noise augmentation).
        guard projectionClassEmbeddingsInputDim == 3 * additionTimeEmbedDim else {
            throw ConfigKeyError.invalid("projection_class_embeddings_input_dim",
                                         "must be 3 × addition_time_embed_dim = \(3 * additionTimeEmbedDim) (three added time ids), found \(projectionClassEmbeddingsInputDim)")
        }
        try ConfigRules.positive("num_frames", numFrames)
        if let s = sampleSize { try ConfigRules.positive("sample_size", s) }
    }
}

// MARK: - VAE

/// `vae/config.json` (`AutoencoderKLTemporalDecoder`).
public struct VAEConfig: ModelConfigFile {
    public static let fileName = "vae/config.json"
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

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", downBlockTypes = "down_block_types"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case latentChannels = "latent_channels", scalingFactor = "scaling_factor", forceUpcast = "force_upcast"
        case sampleSize = "sample_size"
    }

    /// Builds and validates a config. The defaults are the class defaults in diffusers, which are *not* the SVD
    /// values (SVD: block_out_channels [128, 256, 512, 512], 4 down blocks, layers_per_block 2).
    public init(inChannels: Int = 3, outChannels: Int = 3, downBlockTypes: [String] = [downEncoderBlock],
                blockOutChannels: [Int] = [64], layersPerBlock: Int = 1, latentChannels: Int = 4,
                scalingFactor: Double = 0.18215, forceUpcast: Bool = true, sampleSize: Int? = 32) throws {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.downBlockTypes = downBlockTypes
        self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock
        self.latentChannels = latentChannels
        self.scalingFactor = scalingFactor
        self.forceUpcast = forceUpcast
        self.sampleSize = sampleSize
        _ = try validated(as: "VAEConfig")
    }

    public init(from decoder: Decoder) throws {
        try ConfigKey.expectClass(["AutoencoderKLTemporalDecoder"], in: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = try VAEConfig()
        inChannels = try c.int(.inChannels) ?? d.inChannels
        outChannels = try c.int(.outChannels) ?? d.outChannels
        downBlockTypes = try c.strings(.downBlockTypes) ?? d.downBlockTypes
        blockOutChannels = try c.ints(.blockOutChannels) ?? d.blockOutChannels
        layersPerBlock = try c.int(.layersPerBlock) ?? d.layersPerBlock
        latentChannels = try c.int(.latentChannels) ?? d.latentChannels
        scalingFactor = try c.double(.scalingFactor) ?? d.scalingFactor
        forceUpcast = try c.bool(.forceUpcast) ?? d.forceUpcast
        // Informational only, so a [height, width] pair is not an error.
        sampleSize = try c.json(.sampleSize).map { $0.intValue } ?? d.sampleSize
    }

    public func validate() throws {
        try ConfigRules.positive("in_channels", inChannels)
        try ConfigRules.positive("out_channels", outChannels)
        try ConfigRules.positive("block_out_channels", blockOutChannels)
        try ConfigRules.groupNormChannels("block_out_channels", blockOutChannels)
        guard downBlockTypes.count == blockOutChannels.count else {
            throw ConfigKeyError.invalid("down_block_types", "has \(downBlockTypes.count) entries but block_out_channels has \(blockOutChannels.count)")
        }
        for t in downBlockTypes where t != Self.downEncoderBlock {
            throw ConfigKeyError.unsupported("down_block_types", "unknown block type '\(t)' (expected \(Self.downEncoderBlock))")
        }
        try ConfigRules.positive("layers_per_block", layersPerBlock)
        try ConfigRules.positive("latent_channels", latentChannels)
        try ConfigRules.positive("scaling_factor", scalingFactor)
    }
}

// MARK: - CLIP vision tower

/// The MLP activation of the CLIP encoder layers.
public enum CLIPActivation: String, Codable, Equatable, Sendable {
    /// Exact erf GELU (what SVD's ViT-H/14 uses).
    case gelu
    /// x · sigmoid(1.702 x), the transformers default.
    case quickGELU = "quick_gelu"
}

/// `image_encoder/config.json` (transformers `CLIPVisionConfig`, for `CLIPVisionModelWithProjection`).
public struct CLIPVisionConfig: ModelConfigFile {
    public static let fileName = "image_encoder/config.json"

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

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", patchSize = "patch_size", imageSize = "image_size"
        case numChannels = "num_channels", projectionDim = "projection_dim", hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps"
    }

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
        _ = try validated(as: "CLIPVisionConfig")
    }

    public init(from decoder: Decoder) throws {
        // A full CLIPConfig nests the vision settings under "vision_config" and keeps projection_dim at the top.
        let top = try decoder.container(keyedBy: CodingKeys.self)
        let outer = try decoder.container(keyedBy: ConfigKey.self)
        let nested = ConfigKey("vision_config")
        let isNested = try outer.json(nested) != nil
        if isNested, let v = try outer.json(nested), v.objectValue == nil {
            throw ConfigKeyError.wrongType(nested.stringValue, "an object", v)
        }
        let c = isNested ? try outer.nestedContainer(keyedBy: CodingKeys.self, forKey: nested) : top
        let meta = isNested ? try outer.nestedContainer(keyedBy: ConfigKey.self, forKey: nested) : outer
        let modelType = ConfigKey("model_type")
        if let type = try meta.string(modelType), !["clip_vision_model", "clip"].contains(type) {
            throw ConfigKeyError.unsupported(modelType.stringValue, "'\(type)' is not a CLIP vision model (expected 'clip_vision_model')")
        }
        let d = try CLIPVisionConfig()
        let actName = try c.string(.hiddenAct) ?? d.hiddenAct.rawValue
        guard let act = CLIPActivation(rawValue: actName) else {
            throw ConfigKeyError.unsupported(CodingKeys.hiddenAct.rawValue, "'\(actName)' (supported: 'gelu', 'quick_gelu')")
        }
        hiddenAct = act
        hiddenSize = try c.int(.hiddenSize) ?? d.hiddenSize
        intermediateSize = try c.int(.intermediateSize) ?? d.intermediateSize
        numHiddenLayers = try c.int(.numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.int(.numAttentionHeads) ?? d.numAttentionHeads
        patchSize = try c.int(.patchSize) ?? d.patchSize
        imageSize = try c.int(.imageSize) ?? d.imageSize
        numChannels = try c.int(.numChannels) ?? d.numChannels
        projectionDim = try c.int(.projectionDim) ?? top.int(.projectionDim) ?? d.projectionDim
        layerNormEps = try c.double(.layerNormEps) ?? d.layerNormEps
    }

    public func validate() throws {
        for (key, v) in [("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                         ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                         ("patch_size", patchSize), ("image_size", imageSize), ("num_channels", numChannels),
                         ("projection_dim", projectionDim)] {
            try ConfigRules.positive(key, v)
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ConfigKeyError.invalid("num_attention_heads", "\(numAttentionHeads) heads do not divide hidden_size \(hiddenSize)")
        }
        guard imageSize % patchSize == 0 else {
            throw ConfigKeyError.invalid("patch_size", "\(patchSize) does not divide image_size \(imageSize)")
        }
        try ConfigRules.positive("layer_norm_eps", layerNormEps)
    }
}
