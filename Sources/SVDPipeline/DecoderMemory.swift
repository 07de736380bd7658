import SVDModels

/// An upper bound on the streamed VAE decoder's live tensors for one chunk (see `DecoderStreaming`).
/// Between stages one whole-chunk activation is alive; a per-image stage adds its whole-chunk output and one
/// group of frames' intermediates, a temporal resnet the first conv's whole-chunk output, a ring of normalised
/// frames and one group of the second conv's output. Only the whole-chunk terms grow with the frames.
struct DecoderMemory {
    let frames: Int

    /// Peak bytes of the decoder of `vae`, with `latentPixels` = h·w.
    func peakBytes(vae: VAELayout, latentPixels: Int) -> Int {
        let channels = vae.decoder.map(\.outChannels), outChannels = vae.outChannels
        guard let top = channels.first else { return 0 }
        var peak = 0, pixels = latentPixels, previous = top
        for (i, c) in channels.enumerated() {
            // A block's first stage takes the previous block's output, upsampled inside the stage.
            let inPixels = i == 0 ? pixels : pixels / 4
            peak = max(peak, frameStage(input: previous, inPixels: inPixels, output: c, outPixels: pixels),
                       frameStage(input: c, inPixels: pixels, output: c, outPixels: pixels),
                       temporalResnet(channels: c, pixels: pixels))
            previous = c
            if i < channels.count - 1 { pixels *= 4 }
        }
        // conv_norm_out + conv_out, then time_conv_out on the small output.
        return max(peak, frameStage(input: previous, inPixels: pixels, output: outChannels, outPixels: pixels),
                   2 * frames * outChannels * pixels * 4)
    }

    func frameStage(input: Int, inPixels: Int, output: Int, outPixels: Int) -> Int {
        let widest = max(input, output) * outPixels
        let group = DecoderStreaming.framesPerGroup(pixels: inPixels, frames: max(frames - 1, 1), tasks: DecoderStreaming.groupTasks)
        return (frames * (input * inPixels + output * outPixels) + group * DecoderStreaming.frameStageLiveTensors * widest) * 4
    }

    func temporalResnet(channels: Int, pixels: Int) -> Int {
        let group = DecoderStreaming.framesPerGroup(pixels: pixels, frames: frames, tasks: DecoderStreaming.groupTasks)
        return (2 * frames + min(group + 2, frames) + group) * channels * pixels * 4
    }
}
