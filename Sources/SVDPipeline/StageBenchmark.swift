import Foundation
import SVDCore
import SVDModels

/// A pipeline stage `svdbatch bench --stage` can time on its own.
public enum BenchmarkStage: String, CaseIterable, Sendable {
    /// A whole render (every network).
    case render
    /// The CLIP image encoder on one image.
    case clip
    /// The VAE encoder on one image.
    case encode
    /// One UNet evaluation on the guidance batch (2 × frames).
    case unet
    /// The temporal VAE decoder over every frame, in decode chunks.
    case decode
}

/// One network call with its inputs already built, repeatable, and its nominal operation count
/// (`OperationCount`). Only the stage's own network is loaded, so the process's peak memory is that stage's.
public struct StageCall {
    public let stage: BenchmarkStage
    /// Nominal FLOPs of one call, as torch's FlopCounterMode counts diffusers' modules.
    public let operations: Int
    private let call: () -> Void

    /// Wall-clock seconds of one call (the output is discarded).
    public func run() -> Double {
        let start = Date()
        call()
        return Date().timeIntervalSince(start)
    }

    /// The image encoder on the CLIP input made from `image`, as the pipeline makes it.
    public static func clip(_ d: ModelDirectory, image: RGBImage) throws -> StageCall {
        let encoder = try d.loadImageEncoder()
        let pixels = ImagePreprocessing.clipInput(image, mean: d.featureExtractorConfig.imageMean.map { Float($0) },
                                                  std: d.featureExtractorConfig.imageStd.map { Float($0) })
        return StageCall(stage: .clip, operations: OperationCount.clipVision(d.imageEncoderConfig)) {
            _ = encoder(pixels)
        }
    }

    /// The VAE encoder on `image` resized to width × height, as the pipeline feeds it (without the noise
    /// augmentation, which changes values, not work). The whole VAE is loaded: it is one network in diffusers.
    public static func encode(_ d: ModelDirectory, image: RGBImage, width: Int, height: Int) throws -> StageCall {
        let vae = try d.loadVAE()
        let input = ImagePreprocessing.vaeInput(image, width: width, height: height)
        return StageCall(stage: .encode, operations: OperationCount.vaeEncoder(d.vaeConfig, height: height, width: width)) {
            _ = vae.encode(input)
        }
    }

    /// One guidance UNet evaluation at the scheduler's first timestep of `steps`. Conditional row: a random CLIP
    /// embedding and random image latents; unconditional row: zeros for both, as the pipeline builds it. The
    /// noisy latents are random × the initial sigma, scaled for the model. Draw order from `TorchGenerator(seed)`:
    /// embedding [1, 1, D], image latents [1, 4, h, w], latents [1, F, 4, h, w].
    public static func unet(_ d: ModelDirectory, frames: Int, width: Int, height: Int, steps: Int,
                            seed: Seed) throws -> StageCall {
        let unet = try d.loadUNet()
        let c = d.unetConfig, h = height / 8, w = width / 8
        let latentChannels = d.vaeConfig.latentChannels
        let generator = TorchGenerator(seed: seed)
        let embedding = generator.randn(shape: [1, 1, c.crossAttentionDim])
        let encoded = generator.randn(shape: [1, latentChannels, h, w])
        let context = Tensor.concat(first: [Tensor(zeros: embedding.shape), embedding])
        let imageLatents = Tensor.concat(first: [Tensor(zeros: encoded.shape), encoded])
        let scheduler = EulerScheduler(settings: SchedulerSettings(d.schedulerConfig), numInferenceSteps: steps)
        let sigma0 = scheduler.initNoiseSigma
        let latents = Elementwise.map(generator.randn(shape: [1, frames, latentChannels, h, w])) { $0 * sigma0 }
        let sample = UNetInput.assemble(scaled: scheduler.scaleModelInput(latents, step: 0), imageLatents: imageLatents)
        // The pipeline's defaults: fps 7 (conditioned on fps − 1), motion bucket 127, noise augmentation 0.02.
        let timeIds: [[Float]] = Array(repeating: [6, 127, 0.02], count: 2)
        let timestep = scheduler.timesteps[0]
        let operations = OperationCount.unet(c, videos: 2, frames: frames, latentHeight: h, latentWidth: w)
        return StageCall(stage: .unet, operations: operations) {
            _ = unet(sample: sample, timestep: timestep, context: context, addedTimeIds: timeIds)
        }
    }

    /// The VAE decode of `frames` random latents [F, 4, h, w] (from `TorchGenerator(seed)`) in chunks of
    /// `chunkSize` frames, as the pipeline decodes its final latents.
    public static func decode(_ d: ModelDirectory, frames: Int, width: Int, height: Int, chunkSize: Int,
                              seed: Seed) throws -> StageCall {
        let vae = try d.loadVAE()
        let h = height / 8, w = width / 8
        let latents = TorchGenerator(seed: seed).randn(shape: [frames, d.vaeConfig.latentChannels, h, w])
        let operations = OperationCount.temporalDecoder(d.vaeConfig, frames: frames, chunkSize: chunkSize,
                                                        latentHeight: h, latentWidth: w)
        return StageCall(stage: .decode, operations: operations) {
            _ = vae.decode(latents: latents, chunkSize: chunkSize)
        }
    }
}
