import SVDCore

// Upstream: https://github.com/huggingface/transformers/blob/main/src/transformers/models/clip/modeling_clip.py

/// transformers' `CLIPVisionModelWithProjection`: patch embedding, class token and positions,
/// pre-LayerNorm, pre-norm encoder layers, post-LayerNorm of the class token, bias-free projection.
/// Built from the checkpoint's root scope (keys `vision_model.*`, `visual_projection.*`).
public struct CLIPVisionModelWithProjection {
    public let hiddenSize: Int
    public let patchSize: Int
    public let imageSize: Int
    public let channels: Int
    public var projectionDim: Int { projection.outFeatures }

    let patchEmbedding: WeightTensor  // [hidden, channels, patch, patch], no bias
    let classEmbedding: Tensor      // [hidden]
    let positionEmbedding: Tensor   // [1 + patches, hidden]
    let preNorm: LayerNormLayer     // stored as `pre_layrnorm` (sic)
    let layers: [CLIPEncoderLayer]
    let postNorm: LayerNormLayer
    let projection: LinearLayer
    let path: String  // `vision_model` module path, to name traced activations as transformers does

    public init(_ w: Weights, config c: CLIPVisionConfig) throws {
        let hiddenSize = c.hiddenSize, eps = Float(c.layerNormEps)
        self.hiddenSize = hiddenSize
        patchSize = c.patchSize
        imageSize = c.imageSize
        channels = c.numChannels
        let v = w["vision_model"], e = v["embeddings"]
        patchEmbedding = try e["patch_embedding"].weight("weight", shape: [hiddenSize, channels, patchSize, patchSize])
        classEmbedding = try e.tensor("class_embedding", shape: [hiddenSize])
        positionEmbedding = try e["position_embedding"].tensor("weight", shape: [c.numPositions, hiddenSize])
        preNorm = try LayerNormLayer(v["pre_layrnorm"], channels: hiddenSize, eps: eps)
        layers = try (0..<c.numHiddenLayers).map {
            try CLIPEncoderLayer(v["encoder"]["layers"]["\($0)"], hiddenSize: hiddenSize, intermediateSize: c.intermediateSize,
                                 heads: c.numAttentionHeads, eps: eps, quickGELU: c.hiddenAct == .quickGELU)
        }
        postNorm = try LayerNormLayer(v["post_layernorm"], channels: hiddenSize, eps: eps)
        projection = try LinearLayer(w["visual_projection"], in: hiddenSize, out: c.projectionDim, bias: false)
        path = v.path
    }

    /// pixel values [B, channels, imageSize, imageSize] (already normalised) → image_embeds [B, projectionDim].
    public func callAsFunction(_ pixels: Tensor) -> Tensor {
        precondition(pixels.shape.count == 4 && Array(pixels.shape.dropFirst()) == [channels, imageSize, imageSize],
                     "CLIP: pixel values \(pixels.shape), expected [B, \(channels), \(imageSize), \(imageSize)]")
        let embeddings = embed(pixels)
        ActivationTrace.record(path + ".embeddings", embeddings)
        var h = preNorm(embeddings)
        for (i, layer) in layers.enumerated() {
            h = layer(h)
            ActivationTrace.record(path + ".encoder.layers.\(i)", h)
        }
        // Only the class token is pooled.
        let b = pixels.shape[0], tokens = h.shape[1]
        let pooled = Tensor(uninitialized: [b, hiddenSize])
        withExtendedLifetime(h) {
            for i in 0..<b { (pooled.data + i * hiddenSize).update(from: h.data + i * tokens * hiddenSize, count: hiddenSize) }
        }
        let normed = postNorm(pooled)
        ActivationTrace.record(path + ".post_layernorm", normed)
        return projection(normed)
    }

    /// [class | patches in row-major (y outer, x inner) order] + positions → [B, 1 + patches, hidden].
    func embed(_ pixels: Tensor) -> Tensor {
        let patches = patchEmbedding.withFloat32 {
            Convolution.conv2d(pixels, weight: $0, bias: nil, stride: patchSize, padding: .same(0))
        }
        let b = pixels.shape[0], d = hiddenSize
        let count = patches.shape[2] * patches.shape[3], tokens = count + 1
        let x = Tensor(uninitialized: [b, tokens, d])
        let pp = patches.data, xp = x.data, pos = positionEmbedding.data, cls = classEmbedding.data
        withExtendedLifetime(patches) {
            Parallel.forEach(b) { i in
                let row = xp + i * tokens * d
                for c in 0..<d { row[c] = cls[c] + pos[c] }
                let src = pp + i * d * count
                for c in 0..<d {
                    for t in 0..<count { row[(t + 1) * d + c] = src[c * count + t] + pos[(t + 1) * d + c] }
                }
            }
        }
        return x
    }
}

/// One CLIP encoder layer: x + out_proj(MHA(LN1(x))), then x + fc2(act(fc1(LN2(x)))). The activation is the
/// exact erf GELU (`hidden_act: "gelu"`, SVD's ViT-H/14) or x·sigmoid(1.702·x) (`"quick_gelu"`).
struct CLIPEncoderLayer {
    let norm1: LayerNormLayer
    let attention: CLIPAttention
    let norm2: LayerNormLayer
    let fc1: LinearLayer
    let fc2: LinearLayer
    let quickGELU: Bool

    init(_ w: Weights, hiddenSize: Int, intermediateSize: Int, heads: Int, eps: Float, quickGELU: Bool) throws {
        norm1 = try LayerNormLayer(w["layer_norm1"], channels: hiddenSize, eps: eps)
        attention = try CLIPAttention(w["self_attn"], hiddenSize: hiddenSize, heads: heads)
        norm2 = try LayerNormLayer(w["layer_norm2"], channels: hiddenSize, eps: eps)
        fc1 = try LinearLayer(w["mlp"]["fc1"], in: hiddenSize, out: intermediateSize)
        fc2 = try LinearLayer(w["mlp"]["fc2"], in: intermediateSize, out: hiddenSize)
        self.quickGELU = quickGELU
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = attention(norm1(x))
        Elementwise.addInPlace(h, x)
        let a = fc1(norm2(h))
        let m = fc2(quickGELU ? Elementwise.map(a) { $0 * Elementwise.sigmoid(1.702 * $0) } : Elementwise.gelu(a))
        Elementwise.addInPlace(m, h)
        return m
    }
}

/// transformers' `CLIPAttention`: self-attention with biased `q_proj/k_proj/v_proj/out_proj`, scale d^−½.
struct CLIPAttention {
    let qProj, kProj, vProj, outProj: LinearLayer
    let heads: Int

    init(_ w: Weights, hiddenSize: Int, heads: Int) throws {
        qProj = try LinearLayer(w["q_proj"], in: hiddenSize, out: hiddenSize)
        kProj = try LinearLayer(w["k_proj"], in: hiddenSize, out: hiddenSize)
        vProj = try LinearLayer(w["v_proj"], in: hiddenSize, out: hiddenSize)
        outProj = try LinearLayer(w["out_proj"], in: hiddenSize, out: hiddenSize)
        self.heads = heads
    }

    /// x [B, L, hidden] → [B, L, hidden].
    func callAsFunction(_ x: Tensor) -> Tensor {
        outProj(Attention.scaledDotProduct(q: qProj(x), k: kProj(x), v: vProj(x), heads: heads))
    }
}
