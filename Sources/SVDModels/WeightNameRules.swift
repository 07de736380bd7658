/// Which part of a stored tensor a network key reads, and how it is laid out.
public enum WeightLayout: Equatable, Sendable {
    /// The whole tensor, elements in stored order.
    case whole
    /// Rows `lowerBound..<upperBound` of dimension 0: one of the q/k/v blocks of a fused projection.
    case rows(Range<Int>)
    /// A 2-D matrix stored as its transpose.
    case transposed
    /// A Linear (out, in) weight stored as a 1×1 convolution, (out, in, 1, 1).
    case squeezed

    /// The shape the key sees, or nil when the stored shape cannot provide it.
    public func shape(ofStored stored: [Int]) -> [Int]? {
        switch self {
        case .whole:
            return stored
        case let .rows(r):
            guard let first = stored.first, r.lowerBound >= 0, r.upperBound <= first else { return nil }
            return [r.count] + stored.dropFirst()
        case .transposed:
            return stored.count == 2 ? [stored[1], stored[0]] : nil
        case .squeezed:
            return stored.count == 4 && stored[2] == 1 && stored[3] == 1 ? [stored[0], stored[1]] : nil
        }
    }
}

/// One network key provided by a stored tensor.
public struct WeightNameMapping: Equatable, Sendable {
    public let key: String
    public let layout: WeightLayout
    public init(_ key: String, _ layout: WeightLayout = .whole) {
        self.key = key
        self.layout = layout
    }
}

/// How one network's tensors are named in one file layout: which stored names belong to the network, and the
/// network key(s) each provides. Every name a network has ever been stored under lives in its table here, not in
/// the layers.
public struct WeightNameRules: Sendable {
    /// The file layout, for messages ("diffusers", "Stability single file").
    public let layout: String
    /// Whether a stored name belongs to this network (a single checkpoint file holds every network).
    let owns: @Sendable (_ storedName: String) -> Bool
    /// Stored name and shape → the keys it provides; nil or empty for a name the network does not use.
    let rename: @Sendable (_ storedName: String, _ shape: [Int]) -> [WeightNameMapping]?
    /// Where a key is expected in this layout, for messages about missing tensors (nil: under its own name).
    let expectedName: @Sendable (_ key: String) -> String?
    /// Stored tensors that are not weights (buffers some exports include), dropped without a warning.
    let notWeights: Set<String>

    public init(layout: String, owns: @escaping @Sendable (_ storedName: String) -> Bool = { _ in true },
                notWeights: Set<String> = [],
                rename: @escaping @Sendable (_ storedName: String, _ shape: [Int]) -> [WeightNameMapping]?,
                expectedName: @escaping @Sendable (_ key: String) -> String? = { _ in nil }) {
        self.layout = layout
        self.owns = owns
        self.notWeights = notWeights
        self.rename = rename
        self.expectedName = expectedName
    }

    /// The name as the network's rules read it, or nil when the tensor belongs to another network or is not a
    /// weight.
    public func localName(_ stored: String) -> String? { owns(stored) && !notWeights.contains(stored) ? stored : nil }

    public func keys(_ storedName: String, _ shape: [Int]) -> [WeightNameMapping]? { rename(storedName, shape) }

    /// A diffusers or transformers folder: names are the keys, except what older exports wrote: the VAE
    /// attention projections as query/key/value/proj_attn and as 1×1 convolutions, and the CLIP position ids
    /// (an I64 buffer, not a weight).
    public static func diffusers(_ component: ModelComponent) -> WeightNameRules {
        switch component {
        case .unet:
            return WeightNameRules(layout: "diffusers") { name, _ in [WeightNameMapping(name)] }
        case .imageEncoder:
            return WeightNameRules(layout: "diffusers", notWeights: ["vision_model.embeddings.position_ids"]) { name, _ in
                [WeightNameMapping(name)]
            }
        case .vae:
            return WeightNameRules(layout: "diffusers") { name, shape in
                let key = legacyVAEName(name) ?? name
                return [WeightNameMapping(key, isVAEAttentionProjection(key) && shape.count == 4 ? .squeezed : .whole)]
            }
        }
    }

    /// `….attentions.0.to_q.weight` and its k/v/out siblings: Linear weights the VAE's mid blocks read.
    static func isVAEAttentionProjection(_ key: String) -> Bool {
        key.contains(".mid_block.attentions.0.to_") && key.hasSuffix(".weight")
    }

    /// `….attentions.0.query.weight` → `….attentions.0.to_q.weight` (diffusers before 0.14).
    static func legacyVAEName(_ name: String) -> String? {
        let renames = [".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."]
        guard name.contains(".attentions.") else { return nil }
        for (old, new) in renames where name.contains(old) { return name.replacingOccurrences(of: old, with: new) }
        return nil
    }
}
