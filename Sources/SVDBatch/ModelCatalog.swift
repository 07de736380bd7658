import Foundation
import SVDMedia
import SVDModels
import SVDPipeline
import SVDCore

/// What planning needs to know about one model: the folder checks out, its default frame count, which weight
/// files were chosen and (on demand) its fingerprint. The networks themselves are built only by the runner,
/// one model at a time.
public struct ModelFacts: Sendable {
    public let model: ResolvedModel
    public let variant: WeightVariant?
    /// The UNet config's num_frames: the default for rows that leave num_frames empty.
    public let defaultFrames: Int
    /// The variant loaded, e.g. "fp16", or per component when they differ ("image_encoder=fp32, unet=fp16").
    public let loadedVariant: String
    /// How the weights were chosen (e.g. a fallback to fp16, a single file's variant).
    public let notes: [String]
    /// The networks' structure, worked out once per model: what the memory and time estimates of every row need.
    let unetLayout: UNetLayout
    let vaeLayout: VAELayout
    let imageEncoderConfig: CLIPVisionConfig
    /// The folder `loadedFiles` are relative to (the model folder, or the folder of a checkpoint file).
    let fingerprintRoot: URL
    let loadedFiles: [String]

    /// Groups jobs that can share one loaded model.
    public var groupKey: String { model.location.path + "|" + (variant?.rawValue ?? "auto") }
}

/// Opens each distinct model once during planning and remembers the outcome (success or error), and hashes a
/// model only when a job of this run needs its fingerprint.
public final class ModelCatalog {
    private let variant: WeightVariant?
    private let digestCache: FileDigestCache?
    private var facts: [String: Result<ModelFacts, Error>] = [:]
    private var fingerprints: [String: ModelFingerprint] = [:]

    public init(variant: WeightVariant?, digestCache: FileDigestCache? = FileDigestCache.shared()) {
        self.variant = variant
        self.digestCache = digestCache
    }

    public func facts(for model: ResolvedModel) throws -> ModelFacts {
        let key = model.location.path
        if let known = facts[key] { return try known.get().renamed(model) }
        let result = Result { () throws -> ModelFacts in
            let directory = try ModelDirectory(url: model.location, variant: variant)
            return ModelFacts(model: model, variant: variant, defaultFrames: directory.unetConfig.numFrames,
                              loadedVariant: Self.describe(directory.loadedVariants), notes: directory.notes,
                              unetLayout: UNetLayout(directory.unetConfig), vaeLayout: VAELayout(directory.vaeConfig),
                              imageEncoderConfig: directory.imageEncoderConfig,
                              fingerprintRoot: directory.fingerprintRoot, loadedFiles: directory.loadedFiles)
        }
        facts[key] = result
        return try result.get()
    }

    /// SHA-256 of every config and weight file (from the user's digest cache when unchanged).
    public func fingerprint(of facts: ModelFacts) throws -> ModelFingerprint {
        if let known = fingerprints[facts.groupKey] { return known }
        let record = try ModelFingerprint(root: facts.fingerprintRoot, relativePaths: facts.loadedFiles, cache: digestCache)
        fingerprints[facts.groupKey] = record
        return record
    }

    static func describe(_ variants: [ModelComponent: WeightVariant]) -> String {
        let distinct = Set(variants.values)
        if distinct.count == 1, let only = distinct.first { return only.rawValue }
        return variants.map { "\($0.key.rawValue)=\($0.value.rawValue)" }.sorted().joined(separator: ", ")
    }
}

extension ModelFacts {
    /// Why a job with these parameters would be refused before rendering for want of memory (the check the
    /// pipeline makes), so that a dry run and the plan say it at once; nil when it fits.
    func memoryProblem(_ p: VideoParameters) -> String? {
        let estimate = MemoryEstimate(unet: unetLayout, vae: vaeLayout, parameters: p,
                                      workers: Parallel.workerCount)
        do { try estimate.check(available: MemoryEstimate.availableBytes()) } catch { return "\(error)" }
        return nil
    }

    /// The nominal work of a job with these parameters.
    func work(_ p: VideoParameters) -> RenderWork {
        RenderWork(unet: unetLayout, vae: vaeLayout, imageEncoder: imageEncoderConfig, parameters: p)
    }

    /// The same facts for another spelling of the same folder (recipes keep the name the user gave).
    func renamed(_ model: ResolvedModel) -> ModelFacts {
        ModelFacts(model: model, variant: variant, defaultFrames: defaultFrames, loadedVariant: loadedVariant,
                   notes: notes, unetLayout: unetLayout, vaeLayout: vaeLayout, imageEncoderConfig: imageEncoderConfig,
                   fingerprintRoot: fingerprintRoot,
                   loadedFiles: loadedFiles)
    }
}
