import SVDCore
import SVDModels

/// The nominal work of one render, stage by stage (`OperationCount`): what a time estimate divides by the
/// rates measured on this machine.
public struct RenderWork: Sendable, Equatable {
    /// FLOPs of the CLIP image encoder (once per render).
    public let imageEncoder: Int
    /// FLOPs of the VAE encoder (once per render).
    public let vaeEncode: Int
    /// FLOPs of one UNet evaluation on the guidance batch (once per denoising step).
    public let unetStep: Int
    /// FLOPs of the temporal decoder over every frame, in the job's decode chunks.
    public let vaeDecode: Int
    /// Frames × pixels written to the clip.
    public let writtenPixels: Int

    public init(unet: UNetLayout, vae: VAELayout, imageEncoder clip: CLIPVisionConfig, parameters p: VideoParameters) {
        let h = p.height / 8, w = p.width / 8
        imageEncoder = OperationCount.clipVision(clip)
        vaeEncode = OperationCount.vaeEncoder(vae, height: p.height, width: p.width)
        unetStep = OperationCount.unet(unet, videos: p.usesGuidance ? 2 : 1, frames: p.numFrames,
                                       latentHeight: h, latentWidth: w)
        vaeDecode = OperationCount.temporalDecoder(vae, frames: p.numFrames, chunkSize: p.decodeChunkSize,
                                                   latentHeight: h, latentWidth: w)
        writtenPixels = p.numFrames * p.width * p.height
    }

    public init(_ d: ModelDirectory, parameters p: VideoParameters) {
        self.init(unet: UNetLayout(d.unetConfig), vae: VAELayout(d.vaeConfig), imageEncoder: d.imageEncoderConfig,
                  parameters: p)
    }

    /// Every network call of a render of `steps` steps.
    public func operations(steps: Int) -> Int { imageEncoder + vaeEncode + steps * unetStep + vaeDecode }
}
