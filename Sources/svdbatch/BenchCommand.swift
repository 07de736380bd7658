import ArgumentParser
import Foundation
import SVDCore
import SVDMedia
import SVDModels
import SVDPipeline

/// `svdbatch bench`: times a whole render stage by stage, or one network call, so users can size their nights and
/// developers can compare the engine with PyTorch (`Tests/Benchmarks/side_by_side.py`).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time one render stage by stage, or one network call, and report GFLOP/s and peak memory.",
        discussion: """
            --stage render (the default) renders one clip in memory (nothing is written) and prints seconds per \
            stage (CLIP image encoder, VAE encode, every UNet evaluation, VAE decode), the total and the peak \
            resident memory.
            --stage clip|encode|unet|decode loads only that stage's network and times one call of it:
              clip: the CLIP image encoder on the image (or a synthetic gradient).
              encode: the VAE encoder on the image resized to --width × --height.
              unet: one UNet evaluation on the guidance batch (2 × --frames); the unconditional row has zero \
            image latents and a zero CLIP embedding, as in the pipeline; the other inputs are drawn from the \
            torch-compatible generator seeded with --seed; the timestep is the first of --steps.
              decode: the temporal VAE decoder on --frames random latents, in chunks of --decode-chunk-size.
            Each stage reports seconds per run (--repeat N: N runs and the best), the operation count in GFLOP, \
            the achieved GFLOP/s and the peak RSS (VmHWM). The count is the model's nominal one, as PyTorch's \
            FlopCounterMode counts diffusers (2 per multiply-add of every Linear and convolution, attention as \
            its two products, elementwise work not counted), so GFLOP/s compare directly with torch's. It \
            includes the single-token cross-attention work this engine skips (to_q, attention and to_out over \
            every query), so the engine's GFLOP/s there are nominal too.
            Examples:
              svdbatch bench --model Samples/demo-model --image Tests/Fixtures/cases/basic/input.png \\
                --width 192 --height 128 --steps 6
              svdbatch bench --model /tmp/svd-xt-random --stage unet --width 256 --height 128 --frames 14
            With --sgemm N it instead measures the engine's single-threaded matrix product (N×N×N) in GFLOP/s;
            with --fp16-expansion, the rate at which 16-bit weights are expanded to float32.
            """
    )

    @Option(help: "A diffusers-format SVD model folder (required unless --sgemm or --fp16-expansion is given).")
    var model: String?

    @Option(help: "Measure a single-threaded N×N×N sgemm through the engine's BLAS layer instead of a render.")
    var sgemm: Int?

    @Flag(help: "Measure fp16 → float32 weight expansion (all workers, one thread, per layer call) instead of a render.")
    var fp16Expansion = false

    @Option(help: "What to time: render (every stage of one render), clip, encode, unet or decode (one call).")
    var stage: BenchmarkStage = .render

    @Option(help: "Runs of the timed work; each is reported, then the best.") var `repeat` = 1

    @Option(help: "Weight variant to load: fp32 or fp16 (default: fp32 when present).")
    var variant: String?

    @Option(help: "Input image (render, clip, encode); without one a synthetic gradient of the output size is used.")
    var image: String?

    @Option(help: "Output width in pixels (multiple of 8).") var width = 1024
    @Option(help: "Output height in pixels (multiple of 8).") var height = 576
    @Option(help: "Frames (default: the UNet config's num_frames).") var frames: Int?
    @Option(help: "Denoising steps (unet: the timestep is the first of this many).") var steps = 25
    @Option(help: "Frames per VAE decoder call (default: all frames, as diffusers).") var decodeChunkSize: Int?
    @Option(help: "Guidance at the last frame (render only); ≤ 1 turns classifier-free guidance off.")
    var maxGuidanceScale = 3.0
    @Option(help: "Seed.") var seed = "42"
    @Option(help: "Engine worker threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard `repeat` >= 1 else { throw ValidationError("--repeat \(`repeat`) must be at least 1") }
        if image != nil, [.unet, .decode].contains(stage) {
            throw ValidationError("--image is not used by --stage \(stage.rawValue) (its inputs are random); drop it, or use --stage render, clip or encode")
        }
    }

    func run() throws {
        if let threads { Parallel.workerCount = threads }
        if let sgemm { return Self.measureSgemm(size: sgemm) }
        if fp16Expansion { return Self.measureHalfExpansion() }
        guard let modelPath = model else { throw ValidationError("--model is required (or use --sgemm N or --fp16-expansion)") }
        guard let seed = Seed(parsing: seed) else {
            throw ValidationError("--seed '\(seed)' is not an integer in [-2^63, 2^64)")
        }
        let weightVariant = try variant.map { name -> WeightVariant in
            guard let v = WeightVariant(rawValue: name) else { throw ValidationError("--variant must be fp32 or fp16") }
            return v
        }
        let directory = try ModelDirectory(url: URL(fileURLWithPath: modelPath), variant: weightVariant)
        let parameters = VideoParameters(seed: seed, numFrames: frames ?? directory.unetConfig.numFrames, width: width,
                                         height: height, numInferenceSteps: steps, maxGuidanceScale: maxGuidanceScale,
                                         decodeChunkSize: decodeChunkSize)
        do { try VideoPipeline.validate(parameters) } catch let error as PipelineError {
            throw ValidationError("\(error) (see --width, --height, --frames, --steps, --decode-chunk-size)")
        }
        let input = try image.map { try ImageInput.load(path: $0) } ?? RGBImage.gradient(width: width, height: height)
        let report = BenchReport(model: modelPath, parameters: parameters)
        if stage == .render {
            try renderStages(directory, input: input, parameters: parameters, report: report)
        } else {
            try timeOneCall(directory, input: input, parameters: parameters, report: report)
        }
        report.peakMemory()
    }

    /// The whole pipeline, stage by stage, `repeat` times.
    func renderStages(_ directory: ModelDirectory, input: RGBImage, parameters p: VideoParameters,
                      report: BenchReport) throws {
        let loadStart = Date()
        let pipeline = VideoPipeline(model: try VideoModel(directory: directory))
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let operations = RenderWork(directory, parameters: p).operations(steps: p.numInferenceSteps)
        report.header("render: \(p.numInferenceSteps) steps, guidance \(p.usesGuidance ? "on" : "off")")
        report.seconds("model load", loadSeconds)
        var totals: [Double] = []
        for run in 1...`repeat` {
            let timings = StageTimings()
            let start = Date()
            _ = try pipeline.render(image: input, parameters: p, timings: timings)
            totals.append(Date().timeIntervalSince(start))
            if `repeat` > 1 { report.line("run \(run)", "") }
            report.seconds("CLIP image encoder", timings.imageEncoder)
            report.seconds("VAE encode", timings.vaeEncode)
            for (i, seconds) in timings.unetEvaluations.enumerated() { report.seconds("UNet step \(i + 1)", seconds) }
            report.seconds("VAE decode", timings.vaeDecode)
            report.timed("total render", seconds: totals.last!, operations: operations)
        }
        report.best(totals, operations: operations)
    }

    /// One network call, built with only its own network loaded, `repeat` times.
    func timeOneCall(_ d: ModelDirectory, input: RGBImage, parameters p: VideoParameters, report: BenchReport) throws {
        let loadStart = Date()
        let call: StageCall
        switch stage {
        case .clip: call = try .clip(d, image: input)
        case .encode: call = try .encode(d, image: input, width: p.width, height: p.height)
        case .unet: call = try .unet(d, frames: p.numFrames, width: p.width, height: p.height, steps: p.numInferenceSteps,
                                     seed: p.seed)
        case .decode: call = try .decode(d, frames: p.numFrames, width: p.width, height: p.height,
                                         chunkSize: p.decodeChunkSize, seed: p.seed)
        case .render: preconditionFailure("render is timed stage by stage")
        }
        let loadSeconds = Date().timeIntervalSince(loadStart)
        report.header(Self.describe(stage))
        report.seconds("model load + inputs", loadSeconds)
        let times = (1...`repeat`).map { run in
            let seconds = call.run()
            report.timed("run \(run)", seconds: seconds, operations: call.operations)
            return seconds
        }
        report.best(times, operations: call.operations)
    }

    static func describe(_ stage: BenchmarkStage) -> String {
        switch stage {
        case .render: return "render"
        case .clip: return "clip: CLIP image encoder, one image"
        case .encode: return "encode: VAE encoder, one image"
        case .unet: return "unet: one UNet evaluation, guidance batch 2 × frames"
        case .decode: return "decode: temporal VAE decoder"
        }
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
        print(String(format: "sgemm %d³, 1 thread, OpenBLAS %@ %@: best of 5 %.3f s = %.1f GFLOP/s", n, BLAS.version, BLAS.kernels.summary, best, gflop / best))
    }

    /// float16 → float32 over 64 Mi elements (float16 read, float32 written), then as a layer call expands the
    /// largest SVD-XT weight (1280 × 2560 × 3 × 3) into scratch.
    static func measureHalfExpansion() {
        func best(of runs: Int = 5, _ work: () -> Void) -> Double {
            (0..<runs).map { _ in
                let start = DispatchTime.now().uptimeNanoseconds
                work()
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }.min()!
        }
        let count = 64 << 20
        let half = HalfBuffer(count: count, format: .float16)
        for i in 0..<count { half.pointer[i] = UInt16(truncatingIfNeeded: i) & 0x7BFF }
        let out = Tensor(uninitialized: [count])
        let parallel = best { HalfConversion.toFloat32(half.pointer, format: .float16, into: out.data, count: count) }
        print(String(format: "float16 → float32 (%@, %d workers): %.2f GB/s of float32 written, %.0f ms per 64 Mi",
                     HalfConversion.usesF16C ? "F16C" : "portable", Parallel.workerCount,
                     Double(count * 4) / parallel / 1e9, parallel * 1000))
        let portable = best(of: 1) { HalfConversion.float16ToFloat32Portable(half.pointer, into: out.data, count: count) }
        print(String(format: "portable path, one thread: %.2f GB/s of float32", Double(count * 4) / portable / 1e9))
        let weight = WeightTensor(shape: [1280, 2560, 3, 3], half: HalfBuffer(count: 1280 * 2560 * 9, format: .float16))
        let call = best { _ = weight.withFloat32 { $0.count } }
        print(String(format: "a layer's withFloat32 on a 1280×2560×3×3 weight: %.2f GB/s of float32", Double(weight.count * 4) / call / 1e9))
    }

    /// A deterministic test image: smooth gradients, so the run does not depend on any file.
}

extension BenchmarkStage: ExpressibleByArgument {}

/// The bench's printed lines: one label column, values aligned. `side_by_side.py` reads the `best`, `operations`
/// and `peak RSS` lines.
final class BenchReport {
    let model: String
    let parameters: VideoParameters

    init(model: String, parameters: VideoParameters) {
        self.model = model
        self.parameters = parameters
    }

    func header(_ what: String) {
        let p = parameters
        print("\(what)\nmodel \(model), \(p.numFrames) frames \(p.width)×\(p.height), decode chunk \(p.decodeChunkSize), " +
              "\(Parallel.workerCount) threads, OpenBLAS \(BLAS.version) \(BLAS.kernels.summary)")
    }

    func line(_ name: String, _ value: String) {
        print("  " + name.padding(toLength: 22, withPad: " ", startingAt: 0) + value)
    }

    func seconds(_ name: String, _ seconds: Double) { line(name, String(format: "%9.3f s", seconds)) }

    func timed(_ name: String, seconds: Double, operations: Int) {
        line(name, String(format: "%9.3f s  %8.1f GFLOP/s", seconds, Double(operations) / 1e9 / seconds))
    }

    func best(_ times: [Double], operations: Int) {
        timed("best", seconds: times.min()!, operations: operations)
        line("operations", String(format: "%9.3f GFLOP", Double(operations) / 1e9)
             + " (\(operations) FLOPs, nominal, as torch's FlopCounterMode counts)")
    }

    func peakMemory() {
        if let peak = ProcessMemory.peakResidentBytes() { line("peak RSS", String(format: "%9.1f MiB", Double(peak) / 1_048_576)) }
    }
}
