import ArgumentParser
import Foundation
import SVDCore
import SVDMedia
import SVDModels
import SVDPipeline

/// `svdbatch bench`: times each pipeline stage of one render on a model folder, so users can size their nights.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time one render stage by stage and report peak memory.",
        discussion: """
            Renders one clip in memory (nothing is written) and prints seconds per stage (CLIP image encoder, \
            VAE encode, every UNet evaluation, VAE decode), the total and the peak resident memory.
            Example (the reference 'basic' case on the demo model):
              svdbatch bench --model Samples/demo-model --image Tests/Fixtures/cases/basic/input.png \\
                --width 192 --height 128 --steps 6
            With --sgemm N it instead measures the engine's single-threaded matrix product (N×N×N) in GFLOP/s.
            """
    )

    @Option(help: "A diffusers-format SVD model folder (required unless --sgemm is given).")
    var model: String?

    @Option(help: "Measure a single-threaded N×N×N sgemm through the engine's BLAS layer instead of a render.")
    var sgemm: Int?

    @Option(help: "Weight variant to load: fp32 or fp16 (default: fp32 when present).")
    var variant: String?

    @Option(help: "Input image; without one a synthetic gradient of the output size is used.")
    var image: String?

    @Option(help: "Output width in pixels (multiple of 8).") var width = 1024
    @Option(help: "Output height in pixels (multiple of 8).") var height = 576
    @Option(help: "Frames (default: the UNet config's num_frames).") var frames: Int?
    @Option(help: "Denoising steps.") var steps = 25
    @Option(help: "Frames per VAE decoder call (default: all frames, as diffusers).") var decodeChunkSize: Int?
    @Option(help: "Guidance at the last frame; ≤ 1 turns classifier-free guidance off.") var maxGuidanceScale = 3.0
    @Option(help: "Seed.") var seed = "42"
    @Option(help: "Engine worker threads (default: all cores).") var threads: Int?

    func run() throws {
        if let sgemm { return Self.measureSgemm(size: sgemm) }
        guard let modelPath = model else { throw ValidationError("--model is required (or use --sgemm N)") }
        if let threads { Parallel.workerCount = threads }
        guard let seed = Seed(parsing: seed) else {
            throw ValidationError("--seed '\(seed)' is not an integer in [-2^63, 2^64)")
        }
        let weightVariant = try variant.map { name -> WeightVariant in
            guard let v = WeightVariant(rawValue: name) else { throw ValidationError("--variant must be fp32 or fp16") }
            return v
        }
        let loadStart = Date()
        let model = try VideoModel(directory: ModelDirectory(url: URL(fileURLWithPath: modelPath), variant: weightVariant))
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let input = try image.map { try ImageInput.load(path: $0) } ?? Self.gradient(width: width, height: height)
        let parameters = VideoParameters(seed: seed, numFrames: frames ?? model.defaultFrames, width: width, height: height,
                                         numInferenceSteps: steps, maxGuidanceScale: maxGuidanceScale,
                                         decodeChunkSize: decodeChunkSize)
        let pipeline = VideoPipeline(model: model)
        let timings = StageTimings()
        let start = Date()
        _ = try pipeline.render(image: input, parameters: parameters, timings: timings)
        let total = Date().timeIntervalSince(start)

        print("model \(modelPath), \(parameters.numFrames) frames \(width)×\(height), \(steps) steps, " +
              "guidance \(parameters.usesGuidance ? "on" : "off"), decode chunk \(parameters.decodeChunkSize), " +
              "\(Parallel.workerCount) threads, BLAS core \(BLAS.coreName)")
        let rows: [(String, Double)] = [("model load", loadSeconds), ("CLIP image encoder", timings.imageEncoder),
                                        ("VAE encode", timings.vaeEncode)]
            + timings.unetEvaluations.enumerated().map { ("UNet step \($0.offset + 1)", $0.element) }
            + [("VAE decode", timings.vaeDecode), ("total render", total)]
        func line(_ name: String, _ value: String) { print("  " + name.padding(toLength: 22, withPad: " ", startingAt: 0) + value) }
        for (name, seconds) in rows { line(name, String(format: "%9.3f s", seconds)) }
        if let peak = ProcessMemory.peakResidentBytes() { line("peak RSS", String(format: "%9.1f MiB", Double(peak) / 1_048_576)) }
    }

    static func measureSgemm(size n: Int) {
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<5 {
            let start = Date()
            BLAS.sgemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &c, ldc: n)
            best = min(best, Date().timeIntervalSince(start))
        }
        let gflop = 2 * Double(n) * Double(n) * Double(n) / 1e9
        print(String(format: "sgemm %d³, 1 thread, BLAS core %@: best of 5 %.3f s = %.1f GFLOP/s", n, BLAS.coreName, best, gflop / best))
    }

    /// A deterministic test image: smooth gradients, so the run does not depend on any file.
    static func gradient(width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(255 * x / max(width - 1, 1))
                pixels[i + 1] = UInt8(255 * y / max(height - 1, 1))
                pixels[i + 2] = UInt8((x + y) % 256)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
