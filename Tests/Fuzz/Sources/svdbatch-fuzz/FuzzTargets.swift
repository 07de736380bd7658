import Foundation
@testable import SVDBatch
@testable import SVDCore
@testable import SVDMedia
@testable import SVDModels
import SVDPipeline

/// One fuzz target per parser of outside data. Each takes arbitrary bytes; thrown errors are the expected outcome
/// of bad input, so only crashes, sanitizer reports, hangs and runaway memory count as findings.
enum FuzzTarget: String, CaseIterable {
    /// Job lists: the CSV reader, then every row through the batch's row validation.
    case csv
    /// safetensors headers and tensor tables (model weights), then single-file checkpoint recognition.
    case safetensors
    /// model_index.json, unet/vae/image_encoder configs, scheduler and feature-extractor configs, shard indexes;
    /// the first byte picks which.
    case configs
    /// The recipe JSON stored in a clip's comment.
    case recipe
    /// The resume checkpoint written between denoising steps.
    case checkpoint
    /// A clip handed back for re-rendering: container probe, the MP4/Matroska extent reader, the recipe.
    case clip
    /// Still images: PNG through libpng, JPEG and WebP through FFmpeg, EXIF orientation.
    case image

    /// Inputs longer than this are not interesting for the format (libFuzzer's -max_len).
    var maxLength: Int {
        switch self {
        case .csv, .configs, .recipe: return 8192
        case .safetensors, .checkpoint: return 65536
        case .clip, .image: return 262_144
        }
    }

    func run(_ data: Data) {
        switch self {
        case .csv: Self.csv(data)
        case .safetensors: Self.safetensors(data)
        case .configs: Self.configs(data)
        case .recipe: _ = try? Recipe.decode(comment: String(decoding: data, as: UTF8.self), file: "fuzz").recomputedJobKey()
        case .checkpoint: _ = try? CheckpointFile.decode(data, path: "fuzz.checkpoint")
        case .clip: Self.clip(data)
        case .image: _ = try? ImageInput.decode([UInt8](data), path: "fuzz-image")
        }
    }

    // MARK: Targets that need a file or a context

    /// A scratch folder per process (libFuzzer runs one input at a time).
    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("svdbatch-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func scratchFile(_ name: String, _ data: Data) -> URL {
        let url = scratch.appendingPathComponent(name)
        try? data.write(to: url)
        return url
    }

    /// Row validation as a run does it, against the demo model (loaded once).
    nonisolated(unsafe) static let validation: (resolver: ModelResolver, catalog: ModelCatalog, defaults: RowDefaults) = {
        let resolver = ModelResolver(environment: [:])
        let catalog = ModelCatalog(variant: nil, digestCache: nil)
        let demo = try? resolver.demoModel()
        if let demo { _ = try? catalog.facts(for: demo) }
        return (resolver, catalog, RowDefaults(format: .mp4, crf: nil, model: demo))
    }()

    static func csv(_ data: Data) {
        guard let table = try? JobTable.parse(data, path: "fuzz.csv") else { return }
        let v = validation
        let validator = RowValidator(csvFolder: scratch, defaults: v.defaults, resolver: v.resolver, catalog: v.catalog,
                                     inputs: InputCache())
        for row in table.rows { _ = validator.validate(row) }
    }

    static func safetensors(_ data: Data) {
        let url = scratchFile("svd_xt.safetensors", data)
        if let file = try? SafeTensorsFile(path: url.path) {
            for info in file.tensors.values where info.dtype.isEngineFloat && info.elementCount <= 1 << 20 {
                _ = try? file.weight(info.name).float32()
            }
        }
        _ = try? ModelDirectory(url: url)
    }

    static func configs(_ data: Data) {
        guard let kind = data.first else { return }
        let json = data.dropFirst()
        switch kind % 7 {
        case 0: _ = try? ModelIndex.decode(json)
        case 1: _ = try? UNetConfig.decode(json)
        case 2: _ = try? VAEConfig.decode(json)
        case 3: _ = try? CLIPVisionConfig.decode(json)
        case 4: _ = try? SchedulerConfig.decode(json)
        case 5: _ = try? FeatureExtractorConfig.decode(json)
        default: _ = try? WeightFiles.weightMap(index: scratchFile("model.safetensors.index.json", json))
        }
    }

    static func clip(_ data: Data) {
        let ext = ["mp4", "mkv", "webm"][Int(data.first ?? 0) % 3]
        let url = scratchFile("clip.\(ext)", data.dropFirst())
        _ = try? ClipReader.probe(url)
    }
}
