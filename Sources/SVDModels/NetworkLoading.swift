/// Each network built on its own from a loaded model folder, so a caller that needs one network (a benchmark of
/// one stage) converts only that network's weights to float32.
extension ModelDirectory {
    public func loadImageEncoder() throws -> CLIPVisionModelWithProjection {
        let c = imageEncoderConfig
        return try CLIPVisionModelWithProjection(Weights(imageEncoder), hiddenSize: c.hiddenSize,
                                                 layers: c.numHiddenLayers, heads: c.numAttentionHeads,
                                                 patchSize: c.patchSize, imageSize: c.imageSize,
                                                 channels: c.numChannels, eps: Float(c.layerNormEps),
                                                 quickGELU: c.hiddenAct == .quickGELU)
    }

    public func loadVAE() throws -> AutoencoderKLTemporalDecoder {
        try AutoencoderKLTemporalDecoder(Weights(vae), layout: VAELayout(vaeConfig), scalingFactor: vaeConfig.scalingFactor)
    }

    public func loadUNet() throws -> UNetSpatioTemporal {
        try UNetSpatioTemporal(Weights(unet), layout: UNetLayout(unetConfig))
    }
}
