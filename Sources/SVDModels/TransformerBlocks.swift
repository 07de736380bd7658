import SVDCore

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/transformers/transformer_temporal.py
//           https://github.com/huggingface/diffusers/blob/main/src/diffusers/models/attention.py

/// diffusers' `BasicTransformerBlock` as SVD uses it: spatial self-attention over the positions of one frame,
/// cross-attention to the CLIP embedding, GEGLU feed-forward; pre-LayerNorm residuals.
struct BasicTransformerBlock {
    let norm1, norm2, norm3: LayerNormLayer
    let attn1, attn2: AttentionLayer
    let ff: GEGLUFeedForward

    init(_ w: Weights, channels c: Int, context: Int, heads: Int) throws {
        norm1 = try LayerNormLayer(w["norm1"], channels: c)
        norm2 = try LayerNormLayer(w["norm2"], channels: c)
        norm3 = try LayerNormLayer(w["norm3"], channels: c)
        attn1 = try AttentionLayer(w["attn1"], channels: c, context: c, heads: heads, qkvBias: false)
        attn2 = try AttentionLayer(w["attn2"], channels: c, context: context, heads: heads, qkvBias: false)
        ff = try GEGLUFeedForward(w["ff"], channels: c)
    }

    /// h [b·F, L, C]; context [b·F, 1, D].
    func callAsFunction(_ input: Tensor, context: Tensor) -> Tensor {
        let h = Elementwise.add(attn1(norm1(input)), input)
        // The cross-attention output does not depend on the queries (one key token), so norm2 is skipped.
        let cross = attn2.singleTokenOutput(context: context)  // [b·F, 1, C]
        let h2 = Tokens.addPerGroup(h, rows: cross, groupSize: h.shape[1])
        return Elementwise.add(ff(norm3(h2)), h2)
    }
}

/// diffusers' `TemporalBasicTransformerBlock`: the same structure over the F frames at each position, with
/// an extra GEGLU `ff_in` (and its residual) first.
struct TemporalBasicTransformerBlock {
    let normIn, norm1, norm3: LayerNormLayer
    let ffIn, ff: GEGLUFeedForward
    let attn1, attn2: AttentionLayer

    init(_ w: Weights, channels c: Int, context: Int, heads: Int) throws {
        normIn = try LayerNormLayer(w["norm_in"], channels: c)
        norm1 = try LayerNormLayer(w["norm1"], channels: c)
        norm3 = try LayerNormLayer(w["norm3"], channels: c)
        ffIn = try GEGLUFeedForward(w["ff_in"], channels: c)
        ff = try GEGLUFeedForward(w["ff"], channels: c)
        attn1 = try AttentionLayer(w["attn1"], channels: c, context: c, heads: heads, qkvBias: false)
        attn2 = try AttentionLayer(w["attn2"], channels: c, context: context, heads: heads, qkvBias: false)
        // Stored though never read: the cross-attention has one key token, so its query norm has no effect.
        _ = try LayerNormLayer(w["norm2"], channels: c)
    }

    /// h [b·F, L, C] (frame-major); videoContext [b, 1, D], each video's first-frame context.
    func callAsFunction(_ input: Tensor, videoContext: Tensor, frames: Int) -> Tensor {
        let positions = input.shape[1]
        var h = Tokens.framesToSequences(input, frames: frames)  // [b·L, F, C]
        h = Elementwise.add(ffIn(normIn(h)), h)
        h = Elementwise.add(attn1(norm1(h)), h)
        // Single-token cross-attention: one row per video, the same for all its frames and positions.
        let cross = attn2.singleTokenOutput(context: videoContext)  // [b, 1, C]
        h = Tokens.addPerGroup(h, rows: cross, groupSize: positions * frames)
        h = Elementwise.add(ff(norm3(h)), h)
        return Tokens.sequencesToFrames(h, frames: frames, positions: positions)
    }
}

/// diffusers' `TransformerSpatioTemporalModel`: GroupNorm → proj_in → (spatial block, temporal block with the
/// frame-position embedding, AlphaBlender) per layer → proj_out → residual.
public struct TransformerSpatioTemporalModel {
    let norm: GroupNormLayer
    let projIn, projOut: LinearLayer
    let timePosEmbed: TimestepEmbedding
    let layers: [(spatial: BasicTransformerBlock, temporal: TemporalBasicTransformerBlock, mixer: AlphaBlender)]
    let channels: Int
    let path: String

    /// `context`: the width of the image embedding the cross-attentions read.
    public init(_ w: Weights, channels: Int, context: Int, heads: Int, layers count: Int) throws {
        self.channels = channels
        path = w.path
        norm = try GroupNormLayer(w["norm"], channels: channels, eps: 1e-6)
        projIn = try LinearLayer(w["proj_in"], in: channels, out: channels)
        projOut = try LinearLayer(w["proj_out"], in: channels, out: channels)
        timePosEmbed = try TimestepEmbedding(w["time_pos_embed"], in: channels, hidden: 4 * channels, out: channels)
        // diffusers has one AlphaBlender (`time_mixer`) shared by every layer.
        let mixer = try AlphaBlender(w["time_mixer"], switchSpatialToTemporal: false)
        layers = try (0..<count).map { i in
            (try BasicTransformerBlock(w["transformer_blocks.\(i)"], channels: channels, context: context, heads: heads),
             try TemporalBasicTransformerBlock(w["temporal_transformer_blocks.\(i)"], channels: channels, context: context,
                                               heads: heads),
             mixer)
        }
    }

    /// x [b·F, C, y, x]; context [b·F, 1, D].
    public func callAsFunction(_ x: Tensor, context: Tensor, frames: Int) -> Tensor {
        let rows = x.shape[0], height = x.shape[2], width = x.shape[3]
        let videos = rows / frames
        let positions = height * width
        // Each video's first-frame context drives the temporal cross-attention.
        let videoContext = Tensor.concat(first: (0..<videos).map { context.slice(first: $0 * frames, 1) })
        var h = projIn(Tokens.channelsLast(norm(x)))  // [b·F, L, C]
        let framePositions = (0..<rows).map { Float($0 % frames) }
        let pe = timePosEmbed(SinusoidalEmbedding.embed(framePositions, dim: channels))  // [b·F, C]
        ActivationTrace.record(path + ".time_pos_embed", pe)
        for (i, layer) in layers.enumerated() {
            let spatial = layer.spatial(h, context: context)
            ActivationTrace.record(path + ".transformer_blocks.\(i)", spatial)
            let temporalInput = Tokens.addPerGroup(spatial, rows: pe, groupSize: positions)
            let temporal = layer.temporal(temporalInput, videoContext: videoContext, frames: frames)
            ActivationTrace.record(path + ".temporal_transformer_blocks.\(i)", temporal)
            h = layer.mixer(spatial: spatial, temporal: temporal)
        }
        let out = Tokens.channelsFirst(projOut(h), height: height, width: width)
        Elementwise.addInPlace(out, x)
        ActivationTrace.record(path, out)
        return out
    }
}

/// Token-layout shuffles between NCHW maps, spatial tokens [b·F, L, C] and temporal tokens [b·L, F, C].
enum Tokens {
    /// [n, C, y, x] → [n, y·x, C].
    static func channelsLast(_ x: Tensor) -> Tensor {
        let n = x.shape[0], c = x.shape[1], l = x.count / (n * c)
        let out = Tensor(uninitialized: [n, l, c])
        let xp = x.data, op = out.data
        Parallel.forEach(n) { b in
            let src = xp + b * c * l, dst = op + b * l * c
            for ch in 0..<c { for p in 0..<l { dst[p * c + ch] = src[ch * l + p] } }
        }
        return out
    }

    /// [n, y·x, C] → [n, C, y, x].
    static func channelsFirst(_ x: Tensor, height: Int, width: Int) -> Tensor {
        let n = x.shape[0], l = x.shape[1], c = x.shape[2]
        let out = Tensor(uninitialized: [n, c, height, width])
        let xp = x.data, op = out.data
        Parallel.forEach(n) { b in
            let src = xp + b * l * c, dst = op + b * c * l
            for p in 0..<l { for ch in 0..<c { dst[ch * l + p] = src[p * c + ch] } }
        }
        return out
    }

    /// [b·F, L, C] → [b·L, F, C].
    static func framesToSequences(_ x: Tensor, frames: Int) -> Tensor {
        let bf = x.shape[0], l = x.shape[1], c = x.shape[2]
        let out = Tensor(uninitialized: [bf / frames * l, frames, c])
        let xp = x.data, op = out.data
        Parallel.forEach(bf) { row in
            let v = row / frames, f = row % frames
            for p in 0..<l { (op + ((v * l + p) * frames + f) * c).update(from: xp + (row * l + p) * c, count: c) }
        }
        return out
    }

    /// [b·L, F, C] → [b·F, L, C].
    static func sequencesToFrames(_ x: Tensor, frames: Int, positions l: Int) -> Tensor {
        let c = x.shape[2]
        let videos = x.shape[0] / l
        let out = Tensor(uninitialized: [videos * frames, l, c])
        let xp = x.data, op = out.data
        Parallel.forEach(videos * frames) { row in
            let v = row / frames, f = row % frames
            for p in 0..<l { (op + (row * l + p) * c).update(from: xp + ((v * l + p) * frames + f) * c, count: c) }
        }
        return out
    }

    /// x [N, C] viewed as groups of `groupSize` consecutive rows; adds rows[g] to every row of group g.
    static func addPerGroup(_ x: Tensor, rows: Tensor, groupSize: Int) -> Tensor {
        let c = x.shape[x.rank - 1]
        let n = x.count / c
        precondition(rows.count == (n / groupSize) * c, "addPerGroup: \(x.shape) vs \(rows.shape)")
        let out = Tensor(uninitialized: x.shape)
        let xp = x.data, rp = rows.data, op = out.data
        Parallel.forChunks(n, chunk: 256) { r in
            for i in r {
                let add = rp + (i / groupSize) * c, src = xp + i * c, dst = op + i * c
                for ch in 0..<c { dst[ch] = src[ch] + add[ch] }
            }
        }
        return out
    }
}
