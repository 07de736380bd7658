import Foundation
import SVDCore

/// A network architecture a single checkpoint file can hold, with the configs it runs with (the ones diffusers
/// publishes for it). Stability's files carry no configs, so the architecture is recognised from the tensors.
public struct CheckpointArchitecture: Sendable {
    public let name: String
    let unet: UNetConfig
    let vae: VAEConfig
    let imageEncoder: CLIPVisionConfig
    let scheduler: SchedulerConfig
    let featureExtractor: FeatureExtractorConfig
    /// Whether several published variants share these tensors, so that the file name must tell them apart.
    let variantsShareWeights: Bool
    /// Each network's manifest and its Stability naming rules, built once (about 2,300 names at full size).
    let networks: [(manifest: WeightManifest, rules: WeightNameRules)]

    init(name: String, unet: UNetConfig, vae: VAEConfig, imageEncoder: CLIPVisionConfig, scheduler: SchedulerConfig,
         featureExtractor: FeatureExtractorConfig, variantsShareWeights: Bool) throws {
        self.name = name
        self.unet = unet
        self.vae = vae
        self.imageEncoder = imageEncoder
        self.scheduler = scheduler
        self.featureExtractor = featureExtractor
        self.variantsShareWeights = variantsShareWeights
        networks = [WeightManifest.unet(unet), .vae(vae), .clipVision(imageEncoder)].map {
            ($0, StabilityCheckpointNames.rules($0, unet: unet, vae: vae, imageEncoder: imageEncoder))
        }
    }

    /// Stable Video Diffusion as `stabilityai/stable-video-diffusion-img2vid{,-xt,-xt-1-1}` publish it in diffusers
    /// layout: one architecture for SVD, SVD-XT and SVD-XT 1.1 (their `unet/config.json` differ only in
    /// num_frames), OpenCLIP ViT-H/14 as the image encoder, Karras-sigma Euler between 0.002 and 700.
    public static let stableVideoDiffusion = try! CheckpointArchitecture(
        name: "Stable Video Diffusion",
        unet: UNetConfig(),
        vae: VAEConfig(downBlockTypes: Array(repeating: VAEConfig.downEncoderBlock, count: 4),
                       blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, sampleSize: 768),
        imageEncoder: CLIPVisionConfig(hiddenSize: 1280, intermediateSize: 5120, numHiddenLayers: 32,
                                       numAttentionHeads: 16, patchSize: 14, projectionDim: 1024, hiddenAct: .gelu),
        scheduler: .svd, featureExtractor: FeatureExtractorConfig(), variantsShareWeights: true)

    /// svdbatch's bundled demo model (Samples/demo-model): SVD's topology at small widths, for tests and scripts.
    public static let demo = try! CheckpointArchitecture(
        name: "svdbatch demo",
        unet: UNetConfig(blockOutChannels: [32, 32, 64, 64], numAttentionHeads: [2, 2, 4, 4], crossAttentionDim: 32,
                         additionTimeEmbedDim: 16, projectionClassEmbeddingsInputDim: 48, numFrames: 25, sampleSize: 96),
        vae: VAEConfig(downBlockTypes: Array(repeating: VAEConfig.downEncoderBlock, count: 4),
                       blockOutChannels: [32, 32, 64, 64], layersPerBlock: 2, sampleSize: 768),
        imageEncoder: CLIPVisionConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 2,
                                       patchSize: 14, projectionDim: 32, hiddenAct: .gelu),
        scheduler: .svd, featureExtractor: FeatureExtractorConfig(), variantsShareWeights: false)

    public static let known = [stableVideoDiffusion, demo]

    var manifests: [WeightManifest] { networks.map(\.manifest) }

    func rules(_ manifest: WeightManifest) -> WeightNameRules {
        networks.first { $0.manifest == manifest }?.rules
            ?? StabilityCheckpointNames.rules(manifest, unet: unet, vae: vae, imageEncoder: imageEncoder)
    }
}

/// Which published model a file is, where the architecture alone cannot say.
public struct CheckpointVariant: Equatable, Sendable {
    public let label: String
    /// Frames per clip when a job does not say (the published `num_frames`).
    public let frames: Int

    /// Stability's names: `svd` (14 frames), `svd_xt` (25), `svd_xt_1_1` (25, fine-tuned at fixed 6 fps and
    /// motion bucket 127, which stay adjustable); separators may be `_`, `-` or `.`.
    public static func fromFileName(_ name: String) -> CheckpointVariant? {
        let stem = name.lowercased().replacingOccurrences(of: ".safetensors", with: "")
        let tokens = stem.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        if let xt = tokens.firstIndex(where: { $0 == "xt" || $0 == "svdxt" }) {
            let after = Array(tokens[(xt + 1)...])
            let isOneOne = after.starts(with: ["1", "1"]) || after.first == "11" || after.first == "v11"
            return CheckpointVariant(label: isOneOne ? "SVD-XT 1.1" : "SVD-XT", frames: 25)
        }
        if tokens.contains(where: { $0.hasPrefix("svd") }) { return CheckpointVariant(label: "SVD", frames: 14) }
        return nil
    }
}

public enum SingleFileCheckpointError: Error, CustomStringConvertible, Equatable {
    /// No `model.diffusion_model.` tensors: not a Stability-layout model file.
    case notStabilityLayout(file: String, groups: [String], looksLikeDiffusersComponent: Bool)
    /// Stability layout, but no architecture svdbatch knows; `found` describes the file, `closest` what differs.
    case unknownArchitecture(file: String, found: [String], closest: String)
    /// SVD's tensors, but a file name that does not say SVD or SVD-XT.
    case unknownVariant(file: String)

    public var description: String {
        switch self {
        case let .notStabilityLayout(file, groups, diffusers):
            let hint = diffusers
                ? "; its names are diffusers' (one network of a model folder): pass the folder that holds model_index.json"
                : ""
            return "\(file): not a Stable Video Diffusion checkpoint: no 'model.diffusion_model.' tensors (found \(groups.joined(separator: ", ")))\(hint)"
        case let .unknownArchitecture(file, found, closest):
            return "\(file): a checkpoint in Stability's layout, but not a model svdbatch knows (Stable Video Diffusion: SVD, SVD-XT, SVD-XT 1.1). Found: \(found.joined(separator: "; ")).\n\(closest)"
        case let .unknownVariant(file):
            return "\(file): Stable Video Diffusion weights, but the file name does not say which model: SVD (14 frames) and SVD-XT (25 frames) were published with the same tensors. Keep Stability's name (svd.safetensors, svd_xt.safetensors, svd_xt_1_1.safetensors) or a name containing 'svd_xt' (25 frames) or 'svd' (14 frames)"
        }
    }
}

/// One Stability single-file checkpoint, memory-mapped once, recognised and split into the three networks'
/// weight sets (nothing is converted or copied until a layer asks for its weight).
struct SingleFileCheckpoint {
    let url: URL
    let architecture: CheckpointArchitecture
    let variant: CheckpointVariant
    let unet, vae, imageEncoder: WeightSet
    /// Tensors no network reads and that are not among the published files' known extras.
    let warnings: [String]

    init(url: URL) throws {
        let file = try SafeTensorsFile(path: url.path)
        let stored = file.tensors.mapValues { StoredTensor(shape: $0.shape, dtype: $0.dtype, file: file.path) }
        guard stored.keys.contains(where: { $0.hasPrefix(StabilityCheckpointNames.unetPrefix) }) else {
            throw SingleFileCheckpointError.notStabilityLayout(
                file: url.path, groups: Self.groups(stored.keys),
                looksLikeDiffusersComponent: stored.keys.contains { $0.hasPrefix("down_blocks.") || $0.hasPrefix("vision_model.") || $0.hasPrefix("encoder.down_blocks.") })
        }
        let (architecture, sets) = try Self.recognise(file, url: url)
        if architecture.variantsShareWeights {
            guard let named = CheckpointVariant.fromFileName(url.lastPathComponent) else {
                throw SingleFileCheckpointError.unknownVariant(file: url.path)
            }
            variant = named
        } else {
            variant = CheckpointVariant(label: architecture.name, frames: architecture.unet.numFrames)
        }
        self.url = url
        self.architecture = architecture
        (unet, vae, imageEncoder) = (sets[0], sets[1], sets[2])
        warnings = Self.unclaimed(stored.keys)
    }

    /// The first known architecture whose three networks all bind, or an error naming the closest one's problems.
    static func recognise(_ file: SafeTensorsFile, url: URL) throws -> (CheckpointArchitecture, [WeightSet]) {
        let files = WeightFiles(variant: variant(of: file), files: [url], index: nil)
        var attempts: [(name: String, problems: Int, report: String)] = []
        for architecture in CheckpointArchitecture.known {
            do {
                let sets = try architecture.networks.map {
                    try WeightSet(files: files, manifest: $0.manifest, rules: $0.rules, open: [file])
                }
                return (architecture, sets)
            } catch let error as WeightValidationError {
                attempts.append((architecture.name, error.problemCount, error.description))
            }
        }
        let closest = attempts.min { $0.problems < $1.problems }!
        let report = closest.report.split(separator: "\n").prefix(9).joined(separator: "\n")
        throw SingleFileCheckpointError.unknownArchitecture(
            file: url.path, found: describe(file),
            closest: "Compared with \(closest.name), the closest: \(report)\(closest.problems > 8 ? "\n  …" : "")")
    }

    /// "model.diffusion_model (1426 tensors)"-style counts of the top two name levels.
    static func groups<S: Sequence>(_ names: S) -> [String] where S.Element == String {
        var counts: [String: Int] = [:]
        for name in names { counts[name.split(separator: ".").prefix(2).joined(separator: "."), default: 0] += 1 }
        return counts.keys.sorted().prefix(12).map { "\($0) (\(counts[$0]!) tensor\(counts[$0]! == 1 ? "" : "s"))" }
    }

    /// The facts that tell models apart: input channels, temporal layers, image-tower width.
    static func describe(_ file: SafeTensorsFile) -> [String] {
        var found: [String] = []
        let convIn = StabilityCheckpointNames.unetPrefix + "input_blocks.0.0.weight"
        if let shape = file.tensors[convIn]?.shape { found.append("UNet input convolution \(shape) (SVD: [320, 8, 3, 3])") }
        let temporal = file.tensors.keys.contains { $0.hasPrefix(StabilityCheckpointNames.unetPrefix) && $0.contains(".time_stack.") }
        found.append(temporal ? "temporal layers present" : "no temporal layers (time_stack): an image model, not a video model")
        if let shape = file.tensors[StabilityCheckpointNames.imageTowerPrefix + "class_embedding"]?.shape {
            found.append("image tower width \(shape) (SVD: [1280])")
        } else {
            found.append("no OpenCLIP image tower")
        }
        return found
    }

    /// The file's dtype as a variant name (16-bit files are the "fp16" kind).
    static func variant(of file: SafeTensorsFile) -> WeightVariant {
        file.tensors.values.contains { $0.dtype == .f32 } ? .fp32 : .fp16
    }

    /// Names no network owns and that are not the published files' known extras, summarised.
    static func unclaimed<S: Sequence>(_ names: S) -> [String] where S.Element == String {
        let other = names.filter { name in
            !ModelComponent.allCases.contains { StabilityCheckpointNames.owns($0, name) }
                && !StabilityCheckpointNames.isKnownUnused(name)
        }.sorted()
        guard !other.isEmpty else { return [] }
        let shown = other.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
        return ["\(other.count) tensor\(other.count == 1 ? "" : "s") that no network uses \(other.count == 1 ? "was" : "were") ignored: \(shown)\(other.count > 3 ? ", …" : "")"]
    }
}
