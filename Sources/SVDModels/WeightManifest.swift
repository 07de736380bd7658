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

/// Every tensor a network reads, with its shape in PyTorch order, for any widths: the network itself built on a
/// `WeightRecorder`, so the keys and shapes are the ones its layers state where they fetch them.
public struct WeightManifest: Equatable, Sendable {
    public let component: ModelComponent
    /// Expected key → shape.
    public let shapes: [String: [Int]]

    public var keys: [String] { shapes.keys.sorted() }
    public var tensorCount: Int { shapes.count }
    public var parameterCount: Int { shapes.values.reduce(0) { $0 + $1.reduce(1, *) } }

    public subscript(key: String) -> [Int]? { shapes[key] }

    /// `UNetSpatioTemporalConditionModel`.
    public static func unet(_ c: UNetConfig) -> WeightManifest { unet(UNetLayout(c)) }

    public static func unet(_ l: UNetLayout) -> WeightManifest {
        WeightManifest(component: .unet, shapes: WeightRecorder.shapes { _ = try UNetSpatioTemporal($0, layout: l) })
    }

    /// `AutoencoderKLTemporalDecoder`: 2-D encoder, temporal decoder.
    public static func vae(_ c: VAEConfig) -> WeightManifest { vae(VAELayout(c)) }

    public static func vae(_ l: VAELayout) -> WeightManifest {
        WeightManifest(component: .vae,
                       shapes: WeightRecorder.shapes { _ = try AutoencoderKLTemporalDecoder($0, layout: l, scalingFactor: 1) })
    }

    /// `CLIPVisionModelWithProjection`.
    public static func clipVision(_ c: CLIPVisionConfig) -> WeightManifest {
        WeightManifest(component: .imageEncoder,
                       shapes: WeightRecorder.shapes { _ = try CLIPVisionModelWithProjection($0, config: c) })
    }

    public init(component: ModelComponent, shapes: [String: [Int]]) {
        self.component = component
        self.shapes = shapes
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
    /// transposes, 1×1 convolutions read as Linear weights) and drops what the rules know is not a weight. All missing tensors, wrong
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
            guard let local = rules.localName(name) else { continue }
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
            guard provided == expected else {
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
