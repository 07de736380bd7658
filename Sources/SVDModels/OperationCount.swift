/// Nominal floating-point operations of one network call, from the architecture and the sizes alone, counted as
/// PyTorch's `torch.utils.flop_counter.FlopCounterMode` counts diffusers' modules: 2 per multiply-add of every
/// Linear (matrix product) and convolution, biases not counted; attention as its two batched products
/// (q·kᵀ and weights·v); normalisations, activations, resampling and other elementwise work not counted.
///
/// The count is the model's, not this engine's: the engine skips the query-independent work of the single-token
/// cross-attentions (to_q, the attention products and to_out over every query), but it is counted here so that
/// achieved GFLOP/s compare directly with torch's. `Tests/Benchmarks/flop_counts.py` prints torch's figures.
public enum OperationCount {
    /// One UNet evaluation on `videos` videos (2 with classifier-free guidance) of `frames` frames of
    /// latentHeight × latentWidth latents.
    public static func unet(_ c: UNetConfig, videos: Int, frames: Int, latentHeight: Int, latentWidth: Int) -> Int {
        unet(UNetLayout(c), videos: videos, frames: frames, latentHeight: latentHeight, latentWidth: latentWidth)
    }

    public static func unet(_ l: UNetLayout, videos: Int, frames: Int, latentHeight: Int, latentWidth: Int) -> Int {
        var t = Tally()
        let rows = videos * frames, temb = l.timeEmbedDim
        // Time and added-time embeddings: one row per video.
        t.linear(rows: videos, l.baseChannels, temb)
        t.linear(rows: videos, temb, temb)
        t.linear(rows: videos, l.addedTimeInputDim, temb)
        t.linear(rows: videos, temb, temb)
        let sizes = l.latentPositions(height: latentHeight, width: latentWidth)
        let block = UNetBlockCounter(videos: videos, frames: frames, timeEmbedDim: temb, contextDim: l.crossAttentionDim)
        func pair(_ inChannels: Int, _ out: Int, heads: Int?, transformerLayers: Int, level: Int) {
            block.resnet(&t, inChannels, out, positions: sizes[level])
            if heads != nil { block.transformer(&t, out, layers: transformerLayers, positions: sizes[level]) }
        }
        t.conv(outputs: rows * sizes[0], l.inChannels, l.baseChannels, kernel: 9)
        for (i, d) in l.down.enumerated() {
            for j in 0..<d.layers {
                pair(d.resnetInput(j), d.outChannels, heads: d.heads, transformerLayers: d.transformerLayers, level: i)
            }
            if d.downsample { t.conv(outputs: rows * sizes[i + 1], d.outChannels, d.outChannels, kernel: 9) }
        }
        let bottom = l.levels - 1, m = l.mid
        block.resnet(&t, m.channels, m.channels, positions: sizes[bottom])
        block.transformer(&t, m.channels, layers: m.transformerLayers, positions: sizes[bottom])
        block.resnet(&t, m.channels, m.channels, positions: sizes[bottom])
        for u in l.up {
            for j in u.skipChannels.indices {
                pair(u.resnetInput(j), u.outChannels, heads: u.heads, transformerLayers: u.transformerLayers, level: u.level)
            }
            if u.upsample { t.conv(outputs: rows * sizes[u.level - 1], u.outChannels, u.outChannels, kernel: 9) }
        }
        t.conv(outputs: rows * sizes[0], l.baseChannels, l.outChannels, kernel: 9)
        return t.flops
    }

    /// The VAE's temporal decoder over `frames` latents of latentHeight × latentWidth, decoded in consecutive
    /// chunks of `chunkSize` frames, as the pipeline decodes them.
    public static func temporalDecoder(_ c: VAEConfig, frames: Int, chunkSize: Int, latentHeight: Int,
                                       latentWidth: Int) -> Int {
        temporalDecoder(VAELayout(c), frames: frames, chunkSize: chunkSize, latentHeight: latentHeight, latentWidth: latentWidth)
    }

    public static func temporalDecoder(_ l: VAELayout, frames: Int, chunkSize: Int, latentHeight: Int,
                                       latentWidth: Int) -> Int {
        precondition(chunkSize >= 1, "decode chunk size must be positive")
        return stride(from: 0, to: frames, by: chunkSize).reduce(0) { total, start in
            total + temporalDecoderChunk(l, frames: min(chunkSize, frames - start), latentHeight: latentHeight,
                                         latentWidth: latentWidth)
        }
    }

    /// The VAE encoder and quant_conv on `images` images of height × width pixels.
    public static func vaeEncoder(_ c: VAEConfig, images: Int = 1, height: Int, width: Int) -> Int {
        vaeEncoder(VAELayout(c), images: images, height: height, width: width)
    }

    public static func vaeEncoder(_ l: VAELayout, images: Int = 1, height: Int, width: Int) -> Int {
        var t = Tally()
        var (h, w) = (height, width)
        t.conv(outputs: images * h * w, l.imageChannels, l.encoder[0].inChannels, kernel: 9)
        for block in l.encoder {
            for j in 0..<block.resnets { t.resnet2D(outputs: images * h * w, block.resnetInput(j), block.outChannels) }
            if block.resample {
                // One zero row and column at the bottom/right, then a stride-2 3×3 conv: ⌊n/2⌋.
                (h, w) = (h / 2, w / 2)
                t.conv(outputs: images * h * w, block.outChannels, block.outChannels, kernel: 9)
            }
        }
        let top = l.midChannels, latent2 = 2 * l.latentChannels
        t.resnet2D(outputs: images * h * w, top, top)
        t.vaeAttention(images: images, positions: h * w, channels: top)
        t.resnet2D(outputs: images * h * w, top, top)
        t.conv(outputs: images * h * w, top, latent2, kernel: 9)
        t.conv(outputs: images * h * w, latent2, latent2, kernel: 1)  // quant_conv
        return t.flops
    }

    /// The CLIP vision tower with its projection on `images` images.
    public static func clipVision(_ c: CLIPVisionConfig, images: Int = 1) -> Int {
        var t = Tally()
        let d = c.hiddenSize, tokens = images * c.numPositions
        t.conv(outputs: images * c.gridSize * c.gridSize, c.numChannels, d, kernel: c.patchSize * c.patchSize)
        for _ in 0..<c.numHiddenLayers {
            for _ in 0..<4 { t.linear(rows: tokens, d, d) }  // q, k, v, out
            t.attention(sequences: images, queries: c.numPositions, keys: c.numPositions, width: d)
            t.linear(rows: tokens, d, c.intermediateSize)
            t.linear(rows: tokens, c.intermediateSize, d)
        }
        t.linear(rows: images, d, c.projectionDim)  // the pooled class token only
        return t.flops
    }

    static func temporalDecoderChunk(_ l: VAELayout, frames: Int, latentHeight: Int, latentWidth: Int) -> Int {
        var t = Tally()
        var positions = latentHeight * latentWidth
        let top = l.midChannels
        t.conv(outputs: frames * positions, l.latentChannels, top, kernel: 9)
        for j in 0..<l.decoderMidResnetsRun {
            if j == 1 && l.decoderMidRunsAttention { t.vaeAttention(images: frames, positions: positions, channels: top) }
            t.decoderResnet(frames: frames, positions: positions, top, top)
        }
        for block in l.decoder {
            for j in 0..<block.resnets {
                t.decoderResnet(frames: frames, positions: positions, block.resnetInput(j), block.outChannels)
            }
            if block.resample {
                positions *= 4
                t.conv(outputs: frames * positions, block.outChannels, block.outChannels, kernel: 9)
            }
        }
        let bottom = l.decoder[l.decoder.count - 1].outChannels
        t.conv(outputs: frames * positions, bottom, l.outChannels, kernel: 9)
        t.conv(outputs: frames * positions, l.outChannels, l.outChannels, kernel: 3)  // time_conv_out (3, 1, 1)
        return t.flops
    }
}

/// A running FLOP total with one method per counted layer kind.
struct Tally {
    private(set) var flops = 0

    /// Linear(in → out) on `rows` rows.
    mutating func linear(rows: Int, _ inFeatures: Int, _ outFeatures: Int) {
        flops += 2 * rows * inFeatures * outFeatures
    }

    /// A convolution with `outputs` output positions (batch included) and `kernel` taps per input channel.
    mutating func conv(outputs: Int, _ inChannels: Int, _ outChannels: Int, kernel: Int) {
        flops += 2 * outputs * inChannels * outChannels * kernel
    }

    /// Both attention products over `sequences` sequences; the head count cancels out (heads × head dim = width).
    mutating func attention(sequences: Int, queries: Int, keys: Int, width: Int) {
        flops += 2 * 2 * sequences * queries * keys * width
    }

    /// `ResnetBlock2D` without a time embedding: two 3×3 convs and a 1×1 shortcut when the width changes.
    mutating func resnet2D(outputs: Int, _ inChannels: Int, _ outChannels: Int) {
        conv(outputs: outputs, inChannels, outChannels, kernel: 9)
        conv(outputs: outputs, outChannels, outChannels, kernel: 9)
        if inChannels != outChannels { conv(outputs: outputs, inChannels, outChannels, kernel: 1) }
    }

    /// The temporal decoder's `SpatioTemporalResBlock` (no time embedding): spatial resnet, then two (3, 1, 1) convs.
    mutating func decoderResnet(frames: Int, positions: Int, _ inChannels: Int, _ outChannels: Int) {
        resnet2D(outputs: frames * positions, inChannels, outChannels)
        conv(outputs: frames * positions, outChannels, outChannels, kernel: 3)
        conv(outputs: frames * positions, outChannels, outChannels, kernel: 3)
    }

    /// The VAE mid-block attention: q, k, v, out projections and one-head attention within each image.
    mutating func vaeAttention(images: Int, positions: Int, channels: Int) {
        for _ in 0..<4 { linear(rows: images * positions, channels, channels) }
        attention(sequences: images, queries: positions, keys: positions, width: channels)
    }
}

/// The UNet's repeated blocks for one batch shape.
struct UNetBlockCounter {
    let videos: Int, frames: Int, timeEmbedDim: Int, contextDim: Int
    var rows: Int { videos * frames }

    /// `SpatioTemporalResBlock` with time embedding: spatial resnet and temporal resnet, each with its own
    /// time_emb_proj on every frame row.
    func resnet(_ t: inout Tally, _ inChannels: Int, _ outChannels: Int, positions: Int) {
        t.linear(rows: rows, timeEmbedDim, outChannels)
        t.resnet2D(outputs: rows * positions, inChannels, outChannels)
        t.linear(rows: rows, timeEmbedDim, outChannels)
        t.conv(outputs: rows * positions, outChannels, outChannels, kernel: 3)
        t.conv(outputs: rows * positions, outChannels, outChannels, kernel: 3)
    }

    /// `TransformerSpatioTemporalModel` of width c with `layers` (spatial, temporal) block pairs.
    func transformer(_ t: inout Tally, _ c: Int, layers: Int, positions: Int) {
        let tokens = rows * positions
        t.linear(rows: tokens, c, c)                           // proj_in
        t.linear(rows: rows, c, 4 * c)                         // time_pos_embed, one row per frame
        t.linear(rows: rows, 4 * c, c)
        for _ in 0..<layers {
            // Spatial block: self-attention over each frame's positions, cross-attention to the frame's context.
            selfAttention(&t, c, sequences: rows, length: positions)
            crossAttention(&t, c, contextRows: rows, sequences: rows, queries: positions)
            feedForward(&t, c, tokens: tokens)
            // Temporal block: ff_in, self-attention over each position's frames, cross-attention to the video's
            // first-frame context (one context row per video and position).
            feedForward(&t, c, tokens: tokens)
            selfAttention(&t, c, sequences: videos * positions, length: frames)
            crossAttention(&t, c, contextRows: videos * positions, sequences: videos * positions, queries: frames)
            feedForward(&t, c, tokens: tokens)
        }
        t.linear(rows: tokens, c, c)                           // proj_out
    }

    private func selfAttention(_ t: inout Tally, _ c: Int, sequences: Int, length: Int) {
        for _ in 0..<4 { t.linear(rows: sequences * length, c, c) }
        t.attention(sequences: sequences, queries: length, keys: length, width: c)
    }

    /// Nominal: the engine skips to_q, the products and to_out over the queries (one key), torch does not.
    private func crossAttention(_ t: inout Tally, _ c: Int, contextRows: Int, sequences: Int, queries: Int) {
        t.linear(rows: sequences * queries, c, c)              // to_q
        t.linear(rows: contextRows, contextDim, c)             // to_k
        t.linear(rows: contextRows, contextDim, c)             // to_v
        t.attention(sequences: sequences, queries: queries, keys: 1, width: c)
        t.linear(rows: sequences * queries, c, c)              // to_out
    }

    /// GEGLU feed-forward: c → 2·4c (value and gate), then 4c → c.
    private func feedForward(_ t: inout Tally, _ c: Int, tokens: Int) {
        t.linear(rows: tokens, c, 8 * c)
        t.linear(rows: tokens, 4 * c, c)
    }
}
