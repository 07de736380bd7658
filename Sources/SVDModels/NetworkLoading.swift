/// Each network built on its own from a loaded model folder, so a caller that needs one network (a benchmark of
/// one stage) converts only that network's weights to float32.
extension ModelDirectory {
    public func loadImageEncoder() throws -> CLIPVisionModelWithProjection {
        try CLIPVisionModelWithProjection(Weights(imageEncoder), config: imageEncoderConfig)
    }

    public func loadVAE() throws -> AutoencoderKLTemporalDecoder {
        try AutoencoderKLTemporalDecoder(Weights(vae), layout: VAELayout(vaeConfig), scalingFactor: vaeConfig.scalingFactor)
    }

    public func loadUNet() throws -> UNetSpatioTemporal {
        try UNetSpatioTemporal(Weights(unet), layout: UNetLayout(unetConfig))
    }
}
