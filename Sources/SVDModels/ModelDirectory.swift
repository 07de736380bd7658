import Foundation
import SVDCore

/// Which weight files to load: diffusers' plain files or its "fp16" variant. The variant is about
/// file names only; the dtype stored in the files decides whether large weights stay 16-bit in memory.
public enum WeightVariant: String, CaseIterable, Sendable {
    case fp32
    case fp16
}

/// A model directory or weight file set that cannot be loaded. Every case names the path at fault.
public enum ModelDirectoryError: Error, CustomStringConvertible, Equatable {
    /// Not a diffusers folder; `checkpoints` names single-file checkpoints found in it, if any.
    case notADirectory(path: String, checkpoints: [String] = [])
    case noWeights(component: ModelComponent, directory: String, lookedFor: [String])
    case variantNotFound(component: ModelComponent, variant: WeightVariant, directory: String, lookedFor: [String],
                         available: WeightVariant?)
    case badIndex(file: String, reason: String)
    case missingShards(index: String, shards: [String])
    case duplicateTensor(tensor: String, files: [String])
    /// Configs that are each valid but do not fit together.
    case inconsistentConfigs(directory: String, reasons: [String])

    public var description: String {
        switch self {
        case let .notADirectory(path, checkpoints):
            let hint = checkpoints.isEmpty ? "" : "; it holds the single-file checkpoint\(checkpoints.count == 1 ? "" : "s") \(checkpoints.joined(separator: ", ")): pass one of those as the model"
            return "\(path): not a model directory (expected a diffusers Stable Video Diffusion folder with model_index.json, or a single-file checkpoint)\(hint)"
        case let .noWeights(component, directory, lookedFor):
            return "\(directory): no \(component.rawValue) weights; looked for \(lookedFor.joined(separator: ", "))"
        case let .variantNotFound(component, variant, directory, lookedFor, available):
            let hint = available.map { "; the \($0.rawValue) weights exist, ask for that variant instead" } ?? ""
            return "\(directory): the requested \(variant.rawValue) \(component.rawValue) weights do not exist (looked for \(lookedFor.joined(separator: ", ")))\(hint)"
        case let .badIndex(file, reason):
            return "\(file): invalid safetensors index: \(reason)"
        case let .missingShards(index, shards):
            return "\(index): shard file\(shards.count == 1 ? "" : "s") missing: \(shards.joined(separator: ", "))"
        case let .duplicateTensor(tensor, files):
            return "tensor '\(tensor)' is stored in more than one shard: \(files.joined(separator: ", "))"
        case let .inconsistentConfigs(directory, reasons):
            return "\(directory): the component configs do not fit together:\n" + reasons.map { "  \($0)" }.joined(separator: "\n")
        }
    }
}

/// A request for a tensor the manifest does not list.
public struct UnknownWeightError: Error, CustomStringConvertible, Equatable {
    public let component: ModelComponent
    public let key: String
    public var description: String { "the \(component.rawValue) has no weight named '\(key)'" }
}

// MARK: - Weight files

/// The files one component's weights come from: a single safetensors file, or an index plus its shards.
public struct WeightFiles: Equatable, Sendable {
    public let variant: WeightVariant
    /// The safetensors files, in shard order.
    public let files: [URL]
    /// The `*.safetensors.index*.json` file when the weights are sharded.
    public let index: URL?

    /// Candidate file names for a component and variant, single file first.
    public static func candidateNames(_ component: ModelComponent, _ variant: WeightVariant) -> [String] {
        let base = component.weightsBaseName
        switch variant {
        case .fp32: return ["\(base).safetensors", "\(base).safetensors.index.json"]
        case .fp16: return ["\(base).fp16.safetensors", "\(base).safetensors.index.fp16.json"]
        }
    }

    /// The files of one variant, if that variant is present in `directory`.
    public static func find(_ component: ModelComponent, _ variant: WeightVariant, in directory: URL) throws -> WeightFiles? {
        let names = candidateNames(component, variant)
        let single = directory.appendingPathComponent(names[0])
        if isFile(single) { return WeightFiles(variant: variant, files: [single], index: nil) }
        let index = directory.appendingPathComponent(names[1])
        guard isFile(index) else { return nil }
        return WeightFiles(variant: variant, files: try shardFiles(index: index), index: index)
    }

    /// Chooses the variant: the requested one (an error if absent), or by default fp32, falling back to fp16
    /// with a note.
    static func select(_ component: ModelComponent, requested: WeightVariant?, in directory: URL) throws
        -> (files: WeightFiles, note: String?) {
        let lookedFor = { (v: WeightVariant) in candidateNames(component, v) }
        if let requested {
            if let found = try find(component, requested, in: directory) { return (found, nil) }
            let other: WeightVariant = requested == .fp32 ? .fp16 : .fp32
            let available = (try? find(component, other, in: directory)) != nil ? other : nil
            throw ModelDirectoryError.variantNotFound(component: component, variant: requested, directory: directory.path,
                                                      lookedFor: lookedFor(requested), available: available)
        }
        if let fp32 = try find(component, .fp32, in: directory) { return (fp32, nil) }
        if let fp16 = try find(component, .fp16, in: directory) {
            let name = fp16.index ?? fp16.files[0]
            return (fp16, "\(component.rawValue): no fp32 weights (\(lookedFor(.fp32).joined(separator: ", "))); loaded the fp16 variant \(name.lastPathComponent)")
        }
        throw ModelDirectoryError.noWeights(component: component, directory: directory.path,
                                            lookedFor: lookedFor(.fp32) + lookedFor(.fp16))
    }

    /// The shard files an index names, validated: plain file names in the index's folder, all present.
    static func shardFiles(index: URL) throws -> [URL] {
        let map = try weightMap(index: index)
        var shards: [String] = []
        for name in Set(map.values).sorted() {
            // A shard name is a file next to the index, never a path that could point elsewhere.
            guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
                throw ModelDirectoryError.badIndex(file: index.path, reason: "shard name '\(name)' is not a plain file name")
            }
            shards.append(name)
        }
        guard !shards.isEmpty else { throw ModelDirectoryError.badIndex(file: index.path, reason: "weight_map is empty") }
        let folder = index.deletingLastPathComponent()
        let missing = shards.filter { !isFile(folder.appendingPathComponent($0)) }
        guard missing.isEmpty else { throw ModelDirectoryError.missingShards(index: index.path, shards: missing) }
        return shards.map { folder.appendingPathComponent($0) }
    }

    /// The index's `weight_map`: tensor name → shard file name.
    static func weightMap(index: URL) throws -> [String: String] {
        let value: JSONValue
        do { value = try JSONValue.parse(RegularFile.read(index, limit: 64 << 20)) } catch let error as RegularFileError {
            throw ModelDirectoryError.badIndex(file: index.path, reason: error.reason)
        } catch {
            throw ModelDirectoryError.badIndex(file: index.path, reason: "not readable JSON")
        }
        guard let map = value["weight_map"]?.objectValue else {
            throw ModelDirectoryError.badIndex(file: index.path, reason: "no \"weight_map\" object")
        }
        var result: [String: String] = [:]
        for (tensor, shard) in map {
            guard let name = shard.stringValue else {
                throw ModelDirectoryError.badIndex(file: index.path, reason: "weight_map entry '\(tensor)' is not a file name")
            }
            result[tensor] = name
        }
        return result
    }

    static func isFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
}

// MARK: - Weight set

/// One network's weights: every tensor of its manifest, validated against the config when loaded, handed out on
/// request as float32 or, for layers' large weights, as stored (the files are memory-mapped; nothing is converted
/// up front).
public final class WeightSet: WeightSource, @unchecked Sendable {
    public let component: ModelComponent
    public let manifest: WeightManifest
    /// The variant actually loaded.
    public let variant: WeightVariant
    public let files: WeightFiles
    /// Unexpected tensors found in the files (ignored).
    public let warnings: [String]
    public let bindings: [String: WeightBinding]
    /// The dtypes the tensors are stored in.
    public let storedDTypes: Set<SafeTensorsDType>
    private let openFiles: [String: SafeTensorsFile]   // path → file

    /// Opens the files (or takes them already open), checks headers and matches them to the manifest through
    /// `rules` (diffusers names by default); all mismatches throw one `WeightValidationError`.
    public init(files: WeightFiles, manifest: WeightManifest, rules: WeightNameRules? = nil,
                open: [SafeTensorsFile]? = nil) throws {
        var opened: [String: SafeTensorsFile] = [:]
        var stored: [String: StoredTensor] = [:]
        var owner: [String: String] = [:]
        var dtypes: [String: SafeTensorsDType] = [:]
        for file in try open ?? files.files.map({ try SafeTensorsFile(path: $0.path) }) {
            opened[file.path] = file
            for (name, info) in file.tensors {
                if let previous = owner[name] {
                    throw ModelDirectoryError.duplicateTensor(tensor: name, files: [previous, file.path])
                }
                owner[name] = file.path
                stored[name] = StoredTensor(shape: info.shape, dtype: info.dtype, file: file.path)
                dtypes[name] = info.dtype
            }
        }
        if let index = files.index {
            // The index must describe the shards truthfully, or another loader would read different tensors.
            for (name, shard) in try WeightFiles.weightMap(index: index) {
                guard let path = owner[name] else {
                    throw ModelDirectoryError.badIndex(file: index.path, reason: "tensor '\(name)' is listed in shard \(shard) but no shard holds it")
                }
                guard URL(fileURLWithPath: path).lastPathComponent == shard else {
                    throw ModelDirectoryError.badIndex(file: index.path, reason: "tensor '\(name)' is listed in shard \(shard) but stored in \(URL(fileURLWithPath: path).lastPathComponent)")
                }
            }
        }
        let source = (files.index ?? files.files[0]).path
        let resolution = try manifest.resolve(stored, rules: rules, source: source)
        component = manifest.component
        self.manifest = manifest
        variant = files.variant
        self.files = files
        warnings = resolution.warnings
        bindings = resolution.bindings
        storedDTypes = Set(resolution.bindings.values.compactMap { dtypes[$0.storedName] })
        openFiles = opened
    }

    /// Every key, sorted.
    public var keys: [String] { manifest.keys }

    public func shape(_ key: String) -> [Int]? { bindings[key]?.shape }

    public func contains(_ key: String) -> Bool { bindings[key] != nil }

    /// The tensor as float32, in the manifest's shape.
    public func tensor(_ key: String) throws -> Tensor {
        let (binding, file, info) = try locate(key)
        let t = try file.tensor(info)
        if binding.layout == .transposed { return Self.transposed(t) }
        return t.shape == binding.shape ? t : t.reshaped(binding.shape)
    }

    /// The tensor as stored (16-bit files stay compact), in the manifest's shape. A transposed matrix is
    /// expanded to float32 (only OpenCLIP's visual projection is stored so).
    public func weight(_ key: String) throws -> WeightTensor {
        let (binding, file, info) = try locate(key)
        if binding.layout == .transposed { return WeightTensor(try tensor(key)) }
        let w = try file.weight(info)
        return w.shape == binding.shape ? w : w.reshaped(binding.shape)
    }

    private func locate(_ key: String) throws -> (WeightBinding, SafeTensorsFile, SafeTensorInfo) {
        guard let binding = bindings[key], let file = openFiles[binding.file] else {
            throw UnknownWeightError(component: component, key: key)
        }
        let info = try file.info(binding.storedName)
        if case let .rows(r) = binding.layout { return (binding, file, info.rows(r)) }
        return (binding, file, info)
    }

    private static func transposed(_ t: Tensor) -> Tensor {
        let rows = t.shape[0], columns = t.shape[1]
        let out = Tensor(uninitialized: [columns, rows])
        for r in 0..<rows { for c in 0..<columns { out.data[c * rows + r] = t.data[r * columns + c] } }
        return out
    }
}

// MARK: - Model directory

/// How a model is stored.
public enum ModelLayout: Equatable, Sendable {
    /// A diffusers folder: model_index.json, one folder per component with its config.
    case diffusersFolder
    /// One Stability-layout checkpoint file, recognised as `architecture`, published model `variant`.
    case singleFile(architecture: String, variant: String)
}

/// A Stable Video Diffusion model, from a diffusers folder or a Stability single-file checkpoint: every config
/// decoded and checked, and the weights of the UNet, the VAE and the CLIP image encoder opened and validated
/// against their configs.
public struct ModelDirectory: Sendable {
    public static let modelIndexFile = ModelIndex.fileName
    public static let unetConfigFile = UNetConfig.fileName
    public static let vaeConfigFile = VAEConfig.fileName
    public static let imageEncoderConfigFile = CLIPVisionConfig.fileName
    public static let schedulerConfigFile = SchedulerConfig.fileName
    public static let featureExtractorConfigFile = FeatureExtractorConfig.fileName
    public static let configFiles = [modelIndexFile, featureExtractorConfigFile, imageEncoderConfigFile,
                                     schedulerConfigFile, unetConfigFile, vaeConfigFile]

    /// The folder, or the checkpoint file.
    public let url: URL
    public let layout: ModelLayout
    /// The variant asked for; nil means fp32 when present, else fp16.
    public let requestedVariant: WeightVariant?

    public let index: ModelIndex
    public let unetConfig: UNetConfig
    public let vaeConfig: VAEConfig
    public let imageEncoderConfig: CLIPVisionConfig
    public let schedulerConfig: SchedulerConfig
    public let featureExtractorConfig: FeatureExtractorConfig

    public let unet: WeightSet
    public let vae: WeightSet
    public let imageEncoder: WeightSet

    /// How the weights were chosen, e.g. a fallback to the fp16 variant.
    public let notes: [String]

    /// - Parameter url: a diffusers folder or a single checkpoint file.
    /// - Parameter variant: the weight variant to load from a folder; nil prefers fp32 and falls back to fp16
    ///   with a note. A variant asked for explicitly must exist for every component. A single file holds one
    ///   dtype, whatever is asked.
    public init(url: URL, variant: WeightVariant? = nil) throws {
        let location = url.standardizedFileURL
        if WeightFiles.isFile(location) {
            try self.init(checkpoint: SingleFileCheckpoint(url: location), requestedVariant: variant)
        } else {
            try self.init(folder: location, variant: variant)
        }
    }

    private init(checkpoint c: SingleFileCheckpoint, requestedVariant: WeightVariant?) throws {
        url = c.url
        layout = .singleFile(architecture: c.architecture.name, variant: c.variant.label)
        self.requestedVariant = requestedVariant
        index = ModelIndex.stableVideoDiffusion
        let a = c.architecture
        unetConfig = try a.unet.withNumFrames(c.variant.frames)
        vaeConfig = a.vae
        imageEncoderConfig = a.imageEncoder
        schedulerConfig = a.scheduler
        featureExtractorConfig = a.featureExtractor
        (unet, vae, imageEncoder) = (c.unet, c.vae, c.imageEncoder)
        var notes = ["\(c.url.lastPathComponent): \(c.variant.label) single-file checkpoint (\(a.name), \(c.variant.frames) frames by default)"]
        if let requestedVariant, requestedVariant != c.unet.variant {
            notes.append("--variant \(requestedVariant.rawValue) does not apply to a single file; it holds \(c.unet.variant.rawValue) weights")
        }
        self.notes = notes + c.warnings
    }

    private init(folder root: URL, variant: WeightVariant?) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue,
              WeightFiles.isFile(root.appendingPathComponent(Self.modelIndexFile)) else {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
            throw ModelDirectoryError.notADirectory(path: root.path, checkpoints: names.filter {
                $0.lowercased().hasPrefix("svd") && $0.hasSuffix(".safetensors")
            }.sorted())
        }
        self.url = root
        layout = .diffusersFolder
        requestedVariant = variant
        let file = { root.appendingPathComponent($0) }
        index = try ModelIndex.load(from: file(Self.modelIndexFile))
        unetConfig = try UNetConfig.load(from: file(Self.unetConfigFile))
        vaeConfig = try VAEConfig.load(from: file(Self.vaeConfigFile))
        imageEncoderConfig = try CLIPVisionConfig.load(from: file(Self.imageEncoderConfigFile))
        schedulerConfig = try SchedulerConfig.load(from: file(Self.schedulerConfigFile))
        featureExtractorConfig = try FeatureExtractorConfig.load(from: file(Self.featureExtractorConfigFile))
        try Self.checkConsistency(root: root, unet: unetConfig, vae: vaeConfig, clip: imageEncoderConfig,
                                  features: featureExtractorConfig)

        var notes: [String] = []
        func load(_ component: ModelComponent, _ manifest: WeightManifest) throws -> WeightSet {
            let (files, note) = try WeightFiles.select(component, requested: variant, in: file(component.folder))
            if let note { notes.append(note) }
            return try WeightSet(files: files, manifest: manifest)
        }
        unet = try load(.unet, .unet(unetConfig))
        vae = try load(.vae, .vae(vaeConfig))
        imageEncoder = try load(.imageEncoder, .clipVision(imageEncoderConfig))
        self.notes = notes
    }

    public var weightSets: [WeightSet] { [unet, vae, imageEncoder] }

    /// The variant loaded for each component.
    public var loadedVariants: [ModelComponent: WeightVariant] {
        Dictionary(uniqueKeysWithValues: weightSets.map { ($0.component, $0.variant) })
    }

    /// Unexpected tensors in any weight file (they are ignored).
    public var warnings: [String] { weightSets.flatMap(\.warnings) }

    /// The folder `loadedFiles` are relative to: the model folder, or the folder holding the checkpoint file.
    public var fingerprintRoot: URL {
        layout == .diffusersFolder ? url : url.deletingLastPathComponent()
    }

    /// Paths relative to `fingerprintRoot` of every config and every weight file loaded (index files included);
    /// for a single file, its name.
    public var loadedFiles: [String] {
        guard layout == .diffusersFolder else { return [url.lastPathComponent] }
        let weights = weightSets.flatMap { set in ([set.files.index].compactMap { $0 } + set.files.files) }
        return Self.configFiles + weights.map { relativePath($0) }
    }

    func relativePath(_ file: URL) -> String {
        let base = url.path.hasSuffix("/") ? url.path : url.path + "/"
        let path = file.standardizedFileURL.path
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    /// Cross-component agreements the pipeline relies on.
    static func checkConsistency(root: URL, unet: UNetConfig, vae: VAEConfig, clip: CLIPVisionConfig,
                                 features: FeatureExtractorConfig) throws {
        var reasons: [String] = []
        if unet.inChannels != 2 * vae.latentChannels {
            reasons.append("unet in_channels \(unet.inChannels) must be 2 × vae latent_channels (\(2 * vae.latentChannels)): noisy latents and image latents are concatenated")
        }
        if unet.outChannels != vae.latentChannels {
            reasons.append("unet out_channels \(unet.outChannels) must equal vae latent_channels \(vae.latentChannels)")
        }
        if unet.crossAttentionDim != clip.projectionDim {
            reasons.append("unet cross_attention_dim \(unet.crossAttentionDim) must equal image_encoder projection_dim \(clip.projectionDim)")
        }
        if vae.inChannels != 3 || vae.outChannels != 3 || clip.numChannels != 3 {
            reasons.append("the VAE and the image encoder must take and produce RGB (3 channels)")
        }
        // The pipeline's fixed shapes (as in diffusers' SVD pipeline): 4 latent channels, an 8× VAE, 224-pixel CLIP.
        if vae.latentChannels != 4 {
            reasons.append("vae latent_channels is \(vae.latentChannels); Stable Video Diffusion uses 4")
        }
        if vae.blockOutChannels.count != 4 {
            reasons.append("vae has \(vae.blockOutChannels.count) blocks; the pipeline needs 4 (an 8× downscale)")
        }
        if clip.imageSize != 224 {
            reasons.append("image_encoder image_size is \(clip.imageSize); the pipeline resizes to 224")
        }
        guard reasons.isEmpty else { throw ModelDirectoryError.inconsistentConfigs(directory: root.path, reasons: reasons) }
    }
}
