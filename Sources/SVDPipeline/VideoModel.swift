import SVDCore
import SVDModels

/// The loaded networks of one SVD model plus the config values the pipeline needs.
public struct VideoModel {
    public let imageEncoder: CLIPVisionModelWithProjection
    public let vae: AutoencoderKLTemporalDecoder
    public let unet: UNetSpatioTemporal
    public let scheduler: SchedulerSettings
    public let imageMean: [Float]
    public let imageStd: [Float]
    /// The UNet config's `num_frames`, diffusers' default frame count.
    public let defaultFrames: Int
    /// The VAE's structure (for memory estimates).
    public let vaeLayout: VAELayout

    public init(imageEncoder: CLIPVisionModelWithProjection, vae: AutoencoderKLTemporalDecoder,
                unet: UNetSpatioTemporal, scheduler: SchedulerSettings, imageMean: [Float], imageStd: [Float],
                defaultFrames: Int, vaeLayout: VAELayout) {
        self.imageEncoder = imageEncoder
        self.vae = vae
        self.unet = unet
        self.scheduler = scheduler
        self.imageMean = imageMean
        self.imageStd = imageStd
        self.defaultFrames = defaultFrames
        self.vaeLayout = vaeLayout
    }
}

/// What the pipeline takes from the scheduler config (the rest is fixed for SVD: v-prediction, Karras,
/// continuous timesteps).
public struct SchedulerSettings: Sendable, Equatable {
    public var sigmaMin: Double
    public var sigmaMax: Double
    public var timestepSpacing: String
    public init(sigmaMin: Double = 0.002, sigmaMax: Double = 700, timestepSpacing: String = "leading") {
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        self.timestepSpacing = timestepSpacing
    }

    public init(_ config: SchedulerConfig) {
        self.init(sigmaMin: config.sigmaMin, sigmaMax: config.sigmaMax, timestepSpacing: config.timestepSpacing.rawValue)
    }
}

extension VideoModel {
    /// Builds the networks from a loaded model folder (weights already validated against the manifests).
    public init(directory d: ModelDirectory) throws {
        self.init(
            imageEncoder: try d.loadImageEncoder(), vae: try d.loadVAE(), unet: try d.loadUNet(),
            scheduler: SchedulerSettings(d.schedulerConfig),
            imageMean: d.featureExtractorConfig.imageMean.map { Float($0) },
            imageStd: d.featureExtractorConfig.imageStd.map { Float($0) },
            defaultFrames: d.unetConfig.numFrames, vaeLayout: VAELayout(d.vaeConfig))
    }
}

extension EulerScheduler {
    /// The schedule of `numInferenceSteps` steps for a model's scheduler settings.
    init(settings s: SchedulerSettings, numInferenceSteps: Int) {
        self.init(sigmaMin: s.sigmaMin, sigmaMax: s.sigmaMax, timestepSpacing: s.timestepSpacing,
                  numInferenceSteps: numInferenceSteps)
    }
}
