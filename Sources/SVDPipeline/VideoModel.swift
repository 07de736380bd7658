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
    /// The VAE's block_out_channels (for memory estimates).
    public let vaeChannels: [Int]

    public init(imageEncoder: CLIPVisionModelWithProjection, vae: AutoencoderKLTemporalDecoder,
                unet: UNetSpatioTemporal, scheduler: SchedulerSettings, imageMean: [Float], imageStd: [Float],
                defaultFrames: Int, vaeChannels: [Int]) {
        self.imageEncoder = imageEncoder
        self.vae = vae
        self.unet = unet
        self.scheduler = scheduler
        self.imageMean = imageMean
        self.imageStd = imageStd
        self.defaultFrames = defaultFrames
        self.vaeChannels = vaeChannels
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
}

extension VideoModel {
    /// Builds the networks from a loaded model folder (weights already validated against the manifests).
    public init(directory d: ModelDirectory) throws {
        let clip = d.imageEncoderConfig
        let vae = d.vaeConfig
        self.init(
            imageEncoder: try CLIPVisionModelWithProjection(Weights(d.imageEncoder), hiddenSize: clip.hiddenSize,
                                                            layers: clip.numHiddenLayers, heads: clip.numAttentionHeads,
                                                            patchSize: clip.patchSize, imageSize: clip.imageSize,
                                                            channels: clip.numChannels, eps: Float(clip.layerNormEps),
                                                            quickGELU: clip.hiddenAct == .quickGELU),
            vae: try AutoencoderKLTemporalDecoder(Weights(d.vae), blockOutChannels: vae.blockOutChannels,
                                                  layersPerBlock: vae.layersPerBlock, latentChannels: vae.latentChannels,
                                                  scalingFactor: vae.scalingFactor, inChannels: vae.inChannels,
                                                  outChannels: vae.outChannels),
            unet: try UNetSpatioTemporal(Weights(d.unet), architecture: UNetArchitecture(d.unetConfig)),
            scheduler: SchedulerSettings(sigmaMin: d.schedulerConfig.sigmaMin, sigmaMax: d.schedulerConfig.sigmaMax,
                                         timestepSpacing: d.schedulerConfig.timestepSpacing.rawValue),
            imageMean: d.featureExtractorConfig.imageMean.map { Float($0) },
            imageStd: d.featureExtractorConfig.imageStd.map { Float($0) },
            defaultFrames: d.unetConfig.numFrames, vaeChannels: vae.blockOutChannels)
    }
}
