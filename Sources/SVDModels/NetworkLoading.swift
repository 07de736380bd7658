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
        let c = vaeConfig
        return try AutoencoderKLTemporalDecoder(Weights(vae), blockOutChannels: c.blockOutChannels,
                                                layersPerBlock: c.layersPerBlock, latentChannels: c.latentChannels,
                                                scalingFactor: c.scalingFactor, inChannels: c.inChannels,
                                                outChannels: c.outChannels)
    }

    public func loadUNet() throws -> UNetSpatioTemporal {
        try UNetSpatioTemporal(Weights(unet), layout: UNetLayout(unetConfig))
    }
}
