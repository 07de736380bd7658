import Foundation
import SVDCore

/// The networks whose weights are stored in safetensors files, named by their folder in a diffusers directory.
public enum ModelComponent: String, CaseIterable, Sendable, Comparable {
    case unet
    case vae
    case imageEncoder = "image_encoder"

    /// The folder inside the model directory.
    public var folder: String { rawValue }
    /// Base name of the weight files (diffusers and transformers name them differently).
    public var weightsBaseName: String { self == .imageEncoder ? "model" : "diffusion_pytorch_model" }

    public static func < (a: ModelComponent, b: ModelComponent) -> Bool { a.rawValue < b.rawValue }
}

/// Every tensor a network reads, with its shape in PyTorch order, computed from the network's config
/// for any widths. The networks fetch exactly these keys.
public struct WeightManifest: Equatable, Sendable {
    public let component: ModelComponent
    /// Expected key → shape.
    public let shapes: [String: [Int]]
    /// Stored keys that are known not to be weights and are dropped without a warning.
    public let ignoredKeys: Set<String>
    /// Keys whose Linear weight may be stored as a 1×1 convolution, (out, in, 1, 1), and is squeezed on load.
    public let squeezableKeys: Set<String>

    public var keys: [String] { shapes.keys.sorted() }
    public var tensorCount: Int { shapes.count }
    public var parameterCount: Int { shapes.values.reduce(0) { $0 + $1.reduce(1, *) } }

    public subscript(key: String) -> [Int]? { shapes[key] }

    /// `UNetSpatioTemporalConditionModel`.
    public static func unet(_ c: UNetConfig) -> WeightManifest { unet(UNetLayout(c)) }

    public static func unet(_ l: UNetLayout) -> WeightManifest {
        var b = ManifestBuilder()
        let temb = l.timeEmbedDim
        b.conv("conv_in", out: l.baseChannels, in: l.inChannels, kernel: [3, 3])
        b.timestepEmbedding("time_embedding", in: l.baseChannels, hidden: temb, out: temb)
        b.timestepEmbedding("add_embedding", in: l.addedTimeInputDim, hidden: temb, out: temb)
        func pair(_ p: String, _ j: Int, in channels: Int, out: Int, heads: Int?, transformerLayers: Int) {
            b.spatioTemporalResBlock("\(p).resnets.\(j)", in: channels, out: out, temb: temb)
            if heads != nil {
                b.spatioTemporalTransformer("\(p).attentions.\(j)", channels: out, layers: transformerLayers,
                                            context: l.crossAttentionDim)
            }
        }
        for (i, block) in l.down.enumerated() {
            for j in 0..<block.layers {
                pair("down_blocks.\(i)", j, in: block.resnetInput(j), out: block.outChannels, heads: block.heads,
                     transformerLayers: block.transformerLayers)
            }
            if block.downsample {
                b.conv("down_blocks.\(i).downsamplers.0.conv", out: block.outChannels, in: block.outChannels, kernel: [3, 3])
            }
        }
        let mid = l.mid
        b.spatioTemporalResBlock("mid_block.resnets.0", in: mid.channels, out: mid.channels, temb: temb)
        b.spatioTemporalTransformer("mid_block.attentions.0", channels: mid.channels, layers: mid.transformerLayers,
                                    context: l.crossAttentionDim)
        b.spatioTemporalResBlock("mid_block.resnets.1", in: mid.channels, out: mid.channels, temb: temb)
        for (i, block) in l.up.enumerated() {
            for j in block.skipChannels.indices {
                pair("up_blocks.\(i)", j, in: block.resnetInput(j), out: block.outChannels, heads: block.heads,
                     transformerLayers: block.transformerLayers)
            }
            if block.upsample {
                b.conv("up_blocks.\(i).upsamplers.0.conv", out: block.outChannels, in: block.outChannels, kernel: [3, 3])
            }
        }
        b.norm("conv_norm_out", l.baseChannels)
        b.conv("conv_out", out: l.outChannels, in: l.baseChannels, kernel: [3, 3])
        return WeightManifest(component: .unet, shapes: b.shapes)
    }

    /// `AutoencoderKLTemporalDecoder`: 2-D encoder, temporal decoder.
    public static func vae(_ c: VAEConfig) -> WeightManifest { vae(VAELayout(c)) }

    public static func vae(_ l: VAELayout) -> WeightManifest {
        var b = ManifestBuilder()
        let top = l.midChannels, latent2 = 2 * l.latentChannels
        b.conv("encoder.conv_in", out: l.encoder[0].inChannels, in: l.imageChannels, kernel: [3, 3])
        for (i, block) in l.encoder.enumerated() {
            for j in 0..<block.resnets {
                b.resnetBlock2D("encoder.down_blocks.\(i).resnets.\(j)", in: block.resnetInput(j), out: block.outChannels, temb: nil)
            }
            if block.resample {
                b.conv("encoder.down_blocks.\(i).downsamplers.0.conv", out: block.outChannels, in: block.outChannels, kernel: [3, 3])
            }
        }
        b.resnetBlock2D("encoder.mid_block.resnets.0", in: top, out: top, temb: nil)
        b.resnetBlock2D("encoder.mid_block.resnets.1", in: top, out: top, temb: nil)
        b.norm("encoder.conv_norm_out", top)
        b.conv("encoder.conv_out", out: latent2, in: top, kernel: [3, 3])
        b.conv("quant_conv", out: latent2, in: latent2, kernel: [1, 1])

        b.conv("decoder.conv_in", out: top, in: l.latentChannels, kernel: [3, 3])
        for j in 0..<l.decoderMidResnetsStored {
            b.spatioTemporalResBlock("decoder.mid_block.resnets.\(j)", in: top, out: top, temb: nil)
        }
        for (i, block) in l.decoder.enumerated() {
            for j in 0..<block.resnets {
                b.spatioTemporalResBlock("decoder.up_blocks.\(i).resnets.\(j)", in: block.resnetInput(j), out: block.outChannels, temb: nil)
            }
            if block.resample {
                b.conv("decoder.up_blocks.\(i).upsamplers.0.conv", out: block.outChannels, in: block.outChannels, kernel: [3, 3])
            }
        }
        let bottom = l.decoder[l.decoder.count - 1].outChannels
        b.norm("decoder.conv_norm_out", bottom)
        b.conv("decoder.conv_out", out: l.outChannels, in: bottom, kernel: [3, 3])
        b.conv("decoder.time_conv_out", out: l.outChannels, in: l.outChannels, kernel: [3, 1, 1])

        // One head over all channels, biased q/k/v; the decoder stores its attention even where it is not run.
        var squeezable: Set<String> = []
        for p in ["encoder.mid_block.attentions.0", "decoder.mid_block.attentions.0"] {
            b.norm("\(p).group_norm", top)
            for name in ["to_q", "to_k", "to_v", "to_out.0"] {
                b.linear("\(p).\(name)", out: top, in: top)
                squeezable.insert("\(p).\(name).weight")
            }
        }
        return WeightManifest(component: .vae, shapes: b.shapes, squeezableKeys: squeezable)
    }

    /// `CLIPVisionModelWithProjection`.
    public static func clipVision(_ c: CLIPVisionConfig) -> WeightManifest {
        var b = ManifestBuilder()
        let d = c.hiddenSize
        b.add("vision_model.embeddings.class_embedding", [d])
        b.add("vision_model.embeddings.patch_embedding.weight", [d, c.numChannels, c.patchSize, c.patchSize])
        b.add("vision_model.embeddings.position_embedding.weight", [c.numPositions, d])
        b.norm("vision_model.pre_layrnorm", d)
        for i in 0..<c.numHiddenLayers {
            let p = "vision_model.encoder.layers.\(i)"
            for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] { b.linear("\(p).self_attn.\(proj)", out: d, in: d) }
            b.norm("\(p).layer_norm1", d)
            b.linear("\(p).mlp.fc1", out: c.intermediateSize, in: d)
            b.linear("\(p).mlp.fc2", out: d, in: c.intermediateSize)
            b.norm("\(p).layer_norm2", d)
        }
        b.norm("vision_model.post_layernorm", d)
        b.linear("visual_projection", out: c.projectionDim, in: d, bias: false)
        // Older exports store the position ids (0…n−1) as an I64 buffer; it is not a weight.
        return WeightManifest(component: .imageEncoder, shapes: b.shapes,
                              ignoredKeys: ["vision_model.embeddings.position_ids"])
    }

    public init(component: ModelComponent, shapes: [String: [Int]], ignoredKeys: Set<String> = [],
                squeezableKeys: Set<String> = []) {
        self.component = component
        self.shapes = shapes
        self.ignoredKeys = ignoredKeys
        self.squeezableKeys = squeezableKeys
    }
}

/// Accumulates key → shape for the diffusers building blocks.
private struct ManifestBuilder {
    var shapes: [String: [Int]] = [:]

    mutating func add(_ key: String, _ shape: [Int]) {
        precondition(shapes[key] == nil, "manifest key \(key) added twice")
        shapes[key] = shape
    }

    mutating func linear(_ p: String, out: Int, in i: Int, bias: Bool = true) {
        add("\(p).weight", [out, i])
        if bias { add("\(p).bias", [out]) }
    }

    mutating func conv(_ p: String, out: Int, in i: Int, kernel: [Int]) {
        add("\(p).weight", [out, i] + kernel)
        add("\(p).bias", [out])
    }

    /// GroupNorm and LayerNorm affine parameters.
    mutating func norm(_ p: String, _ c: Int) {
        add("\(p).weight", [c])
        add("\(p).bias", [c])
    }

    mutating func timestepEmbedding(_ p: String, in i: Int, hidden: Int, out: Int) {
        linear("\(p).linear_1", out: hidden, in: i)
        linear("\(p).linear_2", out: out, in: hidden)
    }

    mutating func resnetBlock2D(_ p: String, in i: Int, out: Int, temb: Int?) {
        norm("\(p).norm1", i)
        conv("\(p).conv1", out: out, in: i, kernel: [3, 3])
        if let temb { linear("\(p).time_emb_proj", out: out, in: temb) }
        norm("\(p).norm2", out)
        conv("\(p).conv2", out: out, in: out, kernel: [3, 3])
        if i != out { conv("\(p).conv_shortcut", out: out, in: i, kernel: [1, 1]) }
    }

    mutating func spatioTemporalResBlock(_ p: String, in i: Int, out: Int, temb: Int?) {
        resnetBlock2D("\(p).spatial_res_block", in: i, out: out, temb: temb)
        let t = "\(p).temporal_res_block"
        norm("\(t).norm1", out)
        conv("\(t).conv1", out: out, in: out, kernel: [3, 1, 1])
        if let temb { linear("\(t).time_emb_proj", out: out, in: temb) }
        norm("\(t).norm2", out)
        conv("\(t).conv2", out: out, in: out, kernel: [3, 1, 1])
        add("\(p).time_mixer.mix_factor", [1])
    }

    /// diffusers `Attention` as the UNet uses it: no q/k/v biases, biased output projection.
    mutating func attention(_ p: String, channels c: Int, context: Int) {
        linear("\(p).to_q", out: c, in: c, bias: false)
        linear("\(p).to_k", out: c, in: context, bias: false)
        linear("\(p).to_v", out: c, in: context, bias: false)
        linear("\(p).to_out.0", out: c, in: c)
    }

    /// GEGLU FeedForward: value and gate halves in one projection.
    mutating func feedForward(_ p: String, in i: Int, out: Int) {
        linear("\(p).net.0.proj", out: 8 * i, in: i)
        linear("\(p).net.2", out: out, in: 4 * i)
    }

    mutating func spatioTemporalTransformer(_ p: String, channels c: Int, layers: Int, context: Int) {
        norm("\(p).norm", c)
        linear("\(p).proj_in", out: c, in: c)
        for l in 0..<layers {
            let s = "\(p).transformer_blocks.\(l)"
            for n in ["norm1", "norm2", "norm3"] { norm("\(s).\(n)", c) }
            attention("\(s).attn1", channels: c, context: c)
            attention("\(s).attn2", channels: c, context: context)
            feedForward("\(s).ff", in: c, out: c)
            let t = "\(p).temporal_transformer_blocks.\(l)"
            for n in ["norm_in", "norm1", "norm2", "norm3"] { norm("\(t).\(n)", c) }
            feedForward("\(t).ff_in", in: c, out: c)
            attention("\(t).attn1", channels: c, context: c)
            attention("\(t).attn2", channels: c, context: context)
            feedForward("\(t).ff", in: c, out: c)
        }
        timestepEmbedding("\(p).time_pos_embed", in: c, hidden: 4 * c, out: c)
        add("\(p).time_mixer.mix_factor", [1])
        linear("\(p).proj_out", out: c, in: c)
    }
}

// MARK: - Matching stored tensors to the manifest

/// A tensor as stored in a weight file (or described by any other source).
public struct StoredTensor: Equatable, Sendable {
    public let shape: [Int]
    public let dtype: SafeTensorsDType
    /// The file holding it, for messages.
    public let file: String

    public init(shape: [Int], dtype: SafeTensorsDType = .f32, file: String) {
        self.shape = shape
        self.dtype = dtype
        self.file = file
    }
}

/// Where a manifest key's data lives.
public struct WeightBinding: Equatable, Sendable {
    /// The name in the file (differs from the key for legacy names and other file layouts).
    public let storedName: String
    public let storedShape: [Int]
    /// Which part of the stored tensor, and how it is laid out.
    public let layout: WeightLayout
    /// The shape handed out (differs from `storedShape` for squeezed 1×1 weights).
    public let shape: [Int]
    public let file: String
}

/// The outcome of matching stored tensors to a manifest: every key bound, plus warnings about extras.
public struct WeightResolution: Equatable, Sendable {
    public let bindings: [String: WeightBinding]
    /// One line per unexpected stored tensor (ignored).
    public let warnings: [String]
}

/// Weights that do not fit the network: everything wrong, in one error.
public struct WeightValidationError: Error, CustomStringConvertible, Equatable {
    public struct Missing: Equatable, Sendable {
        public let key: String
        public let expectedShape: [Int]
        /// The name the file's layout stores it under, when that is not the key.
        public var storedName: String? = nil
    }
    public struct Mismatch: Equatable, Sendable {
        public let key: String
        public let storedName: String
        public let file: String
        public let expectedShape: [Int]
        public let foundShape: [Int]
    }
    /// A tensor the manifest needs stored with a dtype that is not a float type.
    public struct BadDType: Equatable, Sendable {
        public let key: String
        public let storedName: String
        public let file: String
        public let dtype: SafeTensorsDType
    }
    /// Two stored tensors (a current and a legacy name) for the same key.
    public struct Conflict: Equatable, Sendable {
        public let key: String
        public let storedNames: [String]
    }

    public let component: ModelComponent
    /// The weight file(s) checked.
    public let source: String
    public let missing: [Missing]
    public let shapeMismatches: [Mismatch]
    public let badDTypes: [BadDType]
    public let conflicts: [Conflict]

    public var problemCount: Int { missing.count + shapeMismatches.count + badDTypes.count + conflicts.count }

    public var description: String {
        var lines = ["\(source): the \(component.rawValue) weights do not match its config (\(problemCount) problem\(problemCount == 1 ? "" : "s")):"]
        for m in missing {
            lines.append("  missing tensor '\(m.storedName ?? m.key)' \(m.expectedShape)" + (m.storedName.map { _ in " (\(component.rawValue) '\(m.key)')" } ?? ""))
        }
        for m in shapeMismatches {
            let name = m.storedName == m.key ? "" : " (stored as '\(m.storedName)')"
            lines.append("  tensor '\(m.key)'\(name) in \(m.file) has shape \(m.foundShape), expected \(m.expectedShape)")
        }
        for b in badDTypes {
            lines.append("  tensor '\(b.key)' in \(b.file) has dtype \(b.dtype.rawValue), expected F32, F16 or BF16")
        }
        for c in conflicts {
            lines.append("  tensor '\(c.key)' is stored twice, as \(c.storedNames.map { "'\($0)'" }.joined(separator: " and "))")
        }
        return lines.joined(separator: "\n")
    }
}

extension WeightManifest {
    /// Binds every manifest key to a stored tensor through `rules` (stored names → keys, with splits and
    /// transposes), squeezes 1×1 convolution weights and drops known non-weights. All missing tensors, wrong
    /// shapes, non-float dtypes and duplicate names are reported together; stored tensors the rules own but the
    /// network does not use become warnings, and tensors the rules do not own (other networks' in a single
    /// checkpoint file) are skipped.
    ///
    /// - Parameter source: the file(s) described, for messages.
    public func resolve(_ stored: [String: StoredTensor], rules: WeightNameRules? = nil,
                        source: String) throws -> WeightResolution {
        let rules = rules ?? WeightNameRules.diffusers(component)
        var candidates: [String: [(name: String, layout: WeightLayout)]] = [:]   // key → stored tensors providing it
        var warnings: [String] = []
        for name in stored.keys.sorted() {
            guard let local = rules.localName(name), !ignoredKeys.contains(local) else { continue }
            let t = stored[name]!
            let mapped = (rules.keys(local, t.shape) ?? []).filter { shapes[$0.key] != nil }
            guard !mapped.isEmpty else {
                warnings.append("\(t.file): unexpected tensor '\(name)' \(t.shape) is not used by the \(component.rawValue) and was ignored")
                continue
            }
            for m in mapped { candidates[m.key, default: []].append((name, m.layout)) }
        }

        var bindings: [String: WeightBinding] = [:]
        var missing: [WeightValidationError.Missing] = []
        var mismatches: [WeightValidationError.Mismatch] = []
        var badDTypes: [WeightValidationError.BadDType] = []
        var conflicts: [WeightValidationError.Conflict] = []
        for key in keys {
            let expected = shapes[key]!
            guard let found = candidates[key] else {
                missing.append(.init(key: key, expectedShape: expected, storedName: rules.expectedName(key)))
                continue
            }
            guard found.count == 1 else {
                conflicts.append(.init(key: key, storedNames: found.map(\.name).sorted()))
                continue
            }
            let (name, layout) = found[0]
            let t = stored[name]!
            let provided = layout.shape(ofStored: t.shape)
            let squeezed = squeezableKeys.contains(key) && provided == expected + [1, 1]
            guard provided == expected || squeezed else {
                mismatches.append(.init(key: key, storedName: name, file: t.file, expectedShape: expected, foundShape: provided ?? t.shape))
                continue
            }
            guard t.dtype.isEngineFloat else {
                badDTypes.append(.init(key: key, storedName: name, file: t.file, dtype: t.dtype))
                continue
            }
            bindings[key] = WeightBinding(storedName: name, storedShape: t.shape, layout: layout, shape: expected, file: t.file)
        }
        let error = WeightValidationError(component: component, source: source, missing: missing,
                                          shapeMismatches: mismatches, badDTypes: badDTypes, conflicts: conflicts)
        guard error.problemCount == 0 else { throw error }
        return WeightResolution(bindings: bindings, warnings: warnings)
    }

    /// `resolve` for an in-memory key → shape map (all float32), e.g. to check a checkpoint's key list.
    public func resolve(shapes stored: [String: [Int]], rules: WeightNameRules? = nil,
                        source: String = "(in memory)") throws -> WeightResolution {
        try resolve(stored.mapValues { StoredTensor(shape: $0, file: source) }, rules: rules, source: source)
    }
}
