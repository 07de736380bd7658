import Foundation
import SVDCore
import SVDModels

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/pipelines/stable_video_diffusion/pipeline_stable_video_diffusion.py

public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case invalidParameter(name: String, reason: String)
    case badCheckpoint(reason: String)
    case cancelled
    case insufficientMemory(requiredBytes: Int, availableBytes: Int, advice: String)

    public var description: String {
        switch self {
        case let .invalidParameter(name, reason): return "invalid \(name): \(reason)"
        case let .badCheckpoint(reason): return "cannot resume from the checkpoint: \(reason)"
        case .cancelled: return "rendering was cancelled"
        case let .insufficientMemory(required, available, advice):
            return "this job needs about \(required.gibibytes) of memory beyond the loaded model, but only \(available.gibibytes) is available; \(advice)"
        }
    }
}

/// Rendered frames as raw RGB24, frame after frame, rows top to bottom.
public struct VideoFrames: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let count: Int
    public let rgb: [UInt8]

    public var frameByteCount: Int { width * height * 3 }

    public func frame(_ i: Int) -> RGBImage {
        RGBImage(width: width, height: height, pixels: Array(rgb[i * frameByteCount..<(i + 1) * frameByteCount]))
    }
}

/// The latents after `stepsDone` finished denoising steps; enough to resume a render bit-exactly.
public struct DenoisingCheckpoint: Sendable, Equatable {
    public let stepsDone: Int
    public let latents: [Float]
    public init(stepsDone: Int, latents: [Float]) {
        self.stepsDone = stepsDone
        self.latents = latents
    }
}

/// Reported after every denoising step. Throwing from the handler (e.g. `PipelineError.cancelled`) stops the
/// render at this step boundary.
public struct StepProgress {
    public let step: Int          // 1-based number of steps finished
    public let totalSteps: Int
    public let checkpoint: DenoisingCheckpoint
    public let seconds: Double    // time of this step
}

/// Per-stage wall-clock seconds of one render, filled in as the stages run.
public final class StageTimings {
    public var imageEncoder = 0.0
    public var vaeEncode = 0.0
    public var unetEvaluations: [Double] = []
    public var vaeDecode = 0.0
    public init() {}
}

/// diffusers' `StableVideoDiffusionPipeline.__call__` for one image and one video, float32 on the CPU.
public struct VideoPipeline {
    public let model: VideoModel
    public init(model: VideoModel) { self.model = model }

    public func render(image: RGBImage, parameters p: VideoParameters, resumeFrom checkpoint: DenoisingCheckpoint? = nil,
                       timings: StageTimings? = nil,
                       onStep: ((StepProgress) throws -> Void)? = nil) throws -> VideoFrames {
        try Self.validate(p)
        try memoryEstimate(for: p).check(available: MemoryEstimate.availableBytes())
        let latents = try denoise(image: image, parameters: p, resumeFrom: checkpoint, timings: timings, onStep: onStep)
        let start = Date()
        let frames = decode(latents, parameters: p)
        timings?.vaeDecode = Date().timeIntervalSince(start)
        return frames
    }

    public func memoryEstimate(for p: VideoParameters) -> MemoryEstimate {
        MemoryEstimate(unet: model.unet.layout, vae: model.vaeLayout, parameters: p,
                       workers: Parallel.workerCount)
    }

    /// Conditioning, noise and the Euler loop; returns the final latents [1, F, 4, h, w].
    public func denoise(image: RGBImage, parameters p: VideoParameters, resumeFrom checkpoint: DenoisingCheckpoint?,
                        timings: StageTimings? = nil,
                        onStep: ((StepProgress) throws -> Void)? = nil) throws -> Tensor {
        let cfg = p.usesGuidance
        let h = p.height / 8, w = p.width / 8
        let latentShape = [1, p.numFrames, 4, h, w]

        // CLIP sees the original image; with guidance the unconditional row is all zeros.
        var start = Date()
        let embedding = model.imageEncoder(ImagePreprocessing.clipInput(image, mean: model.imageMean, std: model.imageStd))
        let context = cfg ? Tensor.concat(first: [Tensor(zeros: embedding.shape), embedding]) : embedding
        ActivationTrace.record("image_embeddings", context)
        timings?.imageEncoder = Date().timeIntervalSince(start)

        // One fresh generator per clip: draw 1 is the noise augmentation, draw 2 the initial latents.
        let generator = TorchGenerator(seed: p.seed)
        start = Date()
        let vaeImage = ImagePreprocessing.vaeInput(image, width: p.width, height: p.height)
        let noise = generator.randn(shape: vaeImage.shape)
        let strength = Float(p.noiseAugStrength)
        let noisy = Elementwise.zip(vaeImage, noise) { x, n in x + strength * n }
        let encoded = model.vae.encode(noisy)  // [1, 4, h, w], the unscaled posterior mode
        let imageLatents = cfg ? Tensor.concat(first: [Tensor(zeros: encoded.shape), encoded]) : encoded
        ActivationTrace.record("image_latents", imageLatents)
        timings?.vaeEncode = Date().timeIntervalSince(start)

        let row: [Float] = [Float(p.fps - 1), Float(p.motionBucketId), Float(p.noiseAugStrength)]
        let addedTimeIds = Array(repeating: row, count: cfg ? 2 : 1)
        let scheduler = EulerScheduler(settings: model.scheduler, numInferenceSteps: p.numInferenceSteps)
        let guidance = Guidance.frameScales(min: p.minGuidanceScale, max: p.maxGuidanceScale, frames: p.numFrames)

        var latents: Tensor
        var firstStep = 0
        if let checkpoint {
            guard checkpoint.latents.count == Tensor.elementCount(latentShape) else {
                throw PipelineError.badCheckpoint(reason: "it holds \(checkpoint.latents.count) latent values, this job needs \(Tensor.elementCount(latentShape))")
            }
            guard (0...p.numInferenceSteps).contains(checkpoint.stepsDone) else {
                throw PipelineError.badCheckpoint(reason: "step \(checkpoint.stepsDone) is outside 0...\(p.numInferenceSteps)")
            }
            latents = Tensor(shape: latentShape, values: checkpoint.latents)
            firstStep = checkpoint.stepsDone
        } else {
            let sigma0 = scheduler.initNoiseSigma
            latents = Elementwise.map(generator.randn(shape: latentShape)) { $0 * sigma0 }
            ActivationTrace.record("latents_init", latents)
        }

        for i in firstStep..<scheduler.stepCount {
            let stepStart = Date()
            let scaled = scheduler.scaleModelInput(latents, step: i)
            let input = UNetInput.assemble(scaled: scaled, imageLatents: imageLatents)
            let v = model.unet(sample: input, timestep: scheduler.timesteps[i], context: context,
                               addedTimeIds: addedTimeIds)
            if i == 0 { ActivationTrace.record("unet_output_step0", v) }
            let prediction = cfg
                ? Guidance.combine(unconditional: v.slice(first: 0, 1), conditional: v.slice(first: 1, 1), scales: guidance)
                : v
            latents = scheduler.step(modelOutput: prediction, sample: latents, step: i)
            ActivationTrace.record("latents_step\(i)", latents)
            let seconds = Date().timeIntervalSince(stepStart)
            timings?.unetEvaluations.append(seconds)
            try onStep?(StepProgress(step: i + 1, totalSteps: scheduler.stepCount,
                                     checkpoint: DenoisingCheckpoint(stepsDone: i + 1, latents: latents.array),
                                     seconds: seconds))
        }
        return latents
    }

    /// Chunked VAE decode and diffusers' uint8 conversion: round-half-even(fl32(clamp(x·0.5 + 0.5, 0, 1)·255)).
    public func decode(_ latents: Tensor, parameters p: VideoParameters) -> VideoFrames {
        let f = latents.shape[1]
        let decoded = model.vae.decode(latents: latents.reshaped([f, latents.shape[2], latents.shape[3], latents.shape[4]]),
                                       chunkSize: p.decodeChunkSize)
        ActivationTrace.record("frames_decoded", decoded)
        return Self.quantize(decoded)
    }

    /// [F, 3, H, W] decoder output → RGB24 frames.
    public static func quantize(_ decoded: Tensor) -> VideoFrames {
        let f = decoded.shape[0], height = decoded.shape[2], width = decoded.shape[3]
        let plane = height * width
        var rgb = [UInt8](repeating: 0, count: f * plane * 3)
        let src = decoded.data
        rgb.withUnsafeMutableBufferPointer { dst in
            let dst = dst.baseAddress!
            Parallel.forEach(f) { frame in
                for c in 0..<3 {
                    let s = src + (frame * 3 + c) * plane
                    for i in 0..<plane {
                        // NaN (only from broken weights) becomes 0 instead of trapping the conversion.
                        let v = s[i] * 0.5 + 0.5
                        let y = v.isNaN ? 0 : min(max(v, 0), 1)
                        dst[(frame * plane + i) * 3 + c] = UInt8((y * 255).rounded(.toNearestOrEven))
                    }
                }
            }
        }
        withExtendedLifetime(decoded) {}
        return VideoFrames(width: width, height: height, count: f, rgb: rgb)
    }

    /// Parameter checks shared by every entry point (diffusers raises on the first two).
    public static func validate(_ p: VideoParameters) throws {
        func bad(_ name: String, _ reason: String) -> PipelineError { .invalidParameter(name: name, reason: reason) }
        guard p.width % 8 == 0, p.width >= 64 else { throw bad("width", "\(p.width) must be a multiple of 8 and at least 64") }
        guard p.height % 8 == 0, p.height >= 64 else { throw bad("height", "\(p.height) must be a multiple of 8 and at least 64") }
        guard p.numFrames >= 1 else { throw bad("num_frames", "\(p.numFrames) must be at least 1") }
        guard p.numInferenceSteps >= 1 else { throw bad("num_inference_steps", "\(p.numInferenceSteps) must be at least 1") }
        guard p.fps >= 1 else { throw bad("fps", "\(p.fps) must be at least 1") }
        guard p.decodeChunkSize >= 1 else { throw bad("decode_chunk_size", "\(p.decodeChunkSize) must be at least 1") }
        guard p.motionBucketId >= 0 else { throw bad("motion_bucket_id", "\(p.motionBucketId) must be 0 or more") }
        guard p.noiseAugStrength >= 0, p.noiseAugStrength.isFinite else {
            throw bad("noise_aug_strength", "\(p.noiseAugStrength) must be a finite number ≥ 0")
        }
        guard p.minGuidanceScale >= 0, p.minGuidanceScale.isFinite else {
            throw bad("min_guidance_scale", "\(p.minGuidanceScale) must be a finite number ≥ 0")
        }
        guard p.maxGuidanceScale >= p.minGuidanceScale, p.maxGuidanceScale.isFinite else {
            throw bad("max_guidance_scale", "\(p.maxGuidanceScale) must be finite and at least min_guidance_scale (\(p.minGuidanceScale))")
        }
    }
}

enum UNetInput {
    /// [Bu, F, 8, h, w]: the scaled noisy latents (the same for every guidance row) on channels 0–3 and the
    /// image latents of each row, repeated over frames, on channels 4–7.
    static func assemble(scaled: Tensor, imageLatents: Tensor) -> Tensor {
        let rows = imageLatents.shape[0], frames = scaled.shape[1]
        let c = scaled.shape[2], plane = scaled.shape[3] * scaled.shape[4]
        let ci = imageLatents.shape[1]
        let out = Tensor(uninitialized: [rows, frames, c + ci, scaled.shape[3], scaled.shape[4]])
        for r in 0..<rows {
            for f in 0..<frames {
                let dst = out.data + (r * frames + f) * (c + ci) * plane
                dst.update(from: scaled.data + f * c * plane, count: c * plane)
                (dst + c * plane).update(from: imageLatents.data + r * ci * plane, count: ci * plane)
            }
        }
        return out
    }
}
