import Foundation
import SVDCore
import SVDMedia
import SVDModels
import SVDPipeline

/// This machine's measured speed per model, kept in the user's cache folder (`machine-speed.json` beside the
/// digest cache) so that plans and ETAs of later runs start from it. Keyed by CPU, engine thread count and the
/// model's architecture and weight variant: another CPU, thread count or model is measured afresh. Only ever
/// saves time: an unreadable file counts as empty, and a failure to save is ignored.
final class SpeedCalibration {
    static let fileName = "machine-speed.json"
    let file: URL
    private var entries: [String: SpeedRates]

    init(directory: URL) {
        file = directory.appendingPathComponent(Self.fileName)
        entries = Self.load(file)
    }

    convenience init(environment: [String: String]) {
        self.init(directory: FileDigestCache.defaultDirectory(environment: environment))
    }

    /// "CPU model (vector class), N threads | model architecture, weight variant". The architecture is named
    /// by its nominal work at a reference size, which any change to a network's widths or depths changes.
    static func key(_ facts: ModelFacts, threads: Int = Parallel.workerCount,
                    cpu: CPUFeatures = .current) -> String {
        let w = facts.work(SpeedProbe.parameters)
        return "\(cpu.modelName) (\(cpu.vectorClass)), \(threads) threads | work \(w.imageEncoder)/\(w.vaeEncode)/\(w.unetStep)/\(w.vaeDecode), \(facts.loadedVariant)"
    }

    func rates(for key: String) -> SpeedRates? { entries[key] }

    /// The model's stored rates, else measured now with `measure` (and stored), with a notice; nil with a
    /// warning when measuring fails: estimates never stop a run.
    func rates(for facts: ModelFacts, reporter: BatchReporter?, measure: () throws -> SpeedRates) -> SpeedRates? {
        let key = Self.key(facts)
        if let known = entries[key] { return known }
        let start = Date()
        do {
            let measured = try measure()
            record(measured, for: key)
            reporter?.notice("measured this machine's speed with model \(facts.model.name) for time estimates in \(DurationText.text(Date().timeIntervalSince(start))) (once per CPU, thread count and model; kept in \(file.path))")
            return measured
        } catch {
            reporter?.warning("no time estimate for the jobs of model \(facts.model.name): measuring its speed failed: \(error)")
            return nil
        }
    }

    /// Stores `rates` and saves, merged with whatever another process saved meanwhile.
    func record(_ rates: SpeedRates, for key: String) {
        var merged = Self.load(file)
        merged[key] = rates
        entries = merged
        guard let data = try? Self.encoder.encode(merged) else { return }
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? AtomicFile.write(data, to: file)
    }

    private static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return e
    }

    private static func load(_ file: URL) -> [String: SpeedRates] {
        guard let data = try? RegularFile.read(file, limit: 16 << 20),
              let decoded = try? JSONDecoder().decode([String: SpeedRates].self, from: data) else { return [:] }
        return decoded.filter { $0.value.isUsable }
    }
}

extension SpeedRates {
    /// Positive finite figures only: a hand-edited or damaged entry is measured again rather than trusted.
    var isUsable: Bool {
        let figures = [imageEncoder, vaeEncode, unet, vaeDecode, loadSeconds] + Array(writeSecondsPerMegapixel.values)
        return figures.allSatisfy { $0.isFinite && $0 >= 0 } && [imageEncoder, vaeEncode, unet, vaeDecode].allSatisfy { $0 > 0 }
    }
}

/// Measures a model's speed on this machine: loads it, renders a small clip (256×128, 2 frames, 1 step,
/// guidance on) from a synthetic picture twice, timing the second, and writes 8 of those frames in every clip
/// format to a temporary folder.
enum SpeedProbe {
    static let parameters = VideoParameters(seed: Seed(UInt64(0)), numFrames: 2, width: 256, height: 128, numInferenceSteps: 1)

    /// Loads the model and measures it.
    static func measure(_ facts: ModelFacts) throws -> SpeedRates {
        let loadStart = Date()
        let pipeline = VideoPipeline(model: try VideoModel(directory: ModelDirectory(url: facts.model.location,
                                                                                     variant: facts.variant)))
        return try measure(facts, pipeline: pipeline, loadSeconds: Date().timeIntervalSince(loadStart))
    }

    /// Measures a model already loaded (in `loadSeconds`).
    static func measure(_ facts: ModelFacts, pipeline: VideoPipeline, loadSeconds: Double,
                        date: Date = Date()) throws -> SpeedRates {
        let p = parameters, work = facts.work(p)
        // Rendered twice and timed the second time: a first call pays for first-use allocations.
        let image = RGBImage.gradient(width: p.width, height: p.height)
        _ = try pipeline.render(image: image, parameters: p)
        let timings = StageTimings()
        let video = try pipeline.render(image: image, parameters: p, timings: timings)
        let step = timings.unetEvaluations.reduce(0, +) / Double(max(timings.unetEvaluations.count, 1))
        let frames = (0..<8).map { video.frame($0 % video.count) }
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("svdbatch-speed-probe-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var write: [String: Double] = [:]
        let megapixels = Double(frames.count * p.width * p.height) / 1e6
        for format in ClipFormat.allCases {
            let start = Date()
            _ = try ClipWriter.write(frames, fps: p.fps, settings: try EncoderSettings.standard(format), comment: nil,
                                     to: folder.appendingPathComponent("probe.\(format.fileExtension)"))
            write[format.rawValue] = Date().timeIntervalSince(start) / megapixels
        }
        func rate(_ operations: Int, _ seconds: Double) -> Double { Double(operations) / max(seconds, 1e-6) }
        return SpeedRates(imageEncoder: rate(work.imageEncoder, timings.imageEncoder),
                          vaeEncode: rate(work.vaeEncode, timings.vaeEncode), unet: rate(work.unetStep, step),
                          vaeDecode: rate(work.vaeDecode, timings.vaeDecode), writeSecondsPerMegapixel: write,
                          loadSeconds: loadSeconds,
                          measured: SpeedRates.timestamp(date) + " probe \(p.width)×\(p.height), \(p.numFrames) frames")
    }
}
