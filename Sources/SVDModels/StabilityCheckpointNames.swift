/// Where each network's tensors live in Stability AI's single-file SVD checkpoints (`svd.safetensors`,
/// `svd_xt.safetensors`, `svd_xt_1_1.safetensors`): the `state_dict` of generative-models' `DiffusionEngine`
/// (https://github.com/Stability-AI/generative-models, `scripts/sampling/configs/svd_xt.yaml`). The names follow
/// diffusers' own conversion definitions, `src/diffusers/loaders/conversion/{svd,ldm_unet,svd_vae,ldm_vae,
/// clip_vision}.py` (https://github.com/huggingface/diffusers/tree/main/src/diffusers/loaders/conversion).
///
/// - UNet: `model.diffusion_model.` (sgm `VideoUNet`), renamed one to one, no shape changes.
/// - VAE: the encoder and `quant_conv` of the conditioning-frame encoder, `conditioner.embedders.3.encoder.`
///   (sgm `AutoencoderKLModeOnly`, the only part of the file with a `quant_conv`), and the temporal decoder of
///   `first_stage_model.` (sgm `VideoDecoder`); attention projections are 1×1 convolutions.
/// - Image encoder: OpenCLIP ViT-H/14's visual tower, `conditioner.embedders.0.open_clip.model.visual.`, with
///   fused q/k/v (`in_proj_weight`, split along dimension 0) and `proj` stored as the transpose of diffusers'
///   `visual_projection.weight`.
///
/// The other groups in those files are not read: `first_stage_model.encoder.` (sgm's autoencoder has no
/// `quant_conv`), the 2-D decoder and `post_quant_conv` of `conditioner.embedders.3.encoder.`, and what OpenCLIP's
/// text side leaves behind after `del model.transformer`.
public enum StabilityCheckpointNames {
    public static let unetPrefix = "model.diffusion_model."
    public static let vaeEncoderPrefix = "conditioner.embedders.3.encoder."
    public static let vaeDecoderPrefix = "first_stage_model."
    public static let openCLIPPrefix = "conditioner.embedders.0.open_clip.model."
    public static let imageTowerPrefix = openCLIPPrefix + "visual."

    /// Groups present in the published files that no network reads.
    public static func isKnownUnused(_ stored: String) -> Bool {
        stored.hasPrefix(vaeDecoderPrefix + "encoder.") || stored.hasPrefix(vaeEncoderPrefix + "decoder.")
            || stored.hasPrefix(vaeEncoderPrefix + "post_quant_conv.")
            || (stored.hasPrefix(openCLIPPrefix) && !stored.hasPrefix(imageTowerPrefix))
    }

    /// Whether a stored name belongs to a network's groups.
    public static func owns(_ component: ModelComponent, _ stored: String) -> Bool {
        switch component {
        case .unet: return stored.hasPrefix(unetPrefix)
        case .vae:
            return stored.hasPrefix(vaeEncoderPrefix + "encoder.") || stored.hasPrefix(vaeEncoderPrefix + "quant_conv.")
                || stored.hasPrefix(vaeDecoderPrefix + "decoder.")
        case .imageEncoder: return stored.hasPrefix(imageTowerPrefix)
        }
    }

    /// The rules table for one network: every manifest key's stored name, inverted.
    public static func rules(_ manifest: WeightManifest, unet: UNetConfig, vae: VAEConfig,
                             imageEncoder: CLIPVisionConfig) -> WeightNameRules {
        var table: [String: [WeightNameMapping]] = [:]
        var expected: [String: String] = [:]
        let unetLayout = UNetLayout(unet)
        for key in manifest.keys {
            let (stored, layout): (String, WeightLayout)
            switch manifest.component {
            case .unet: (stored, layout) = (unetPrefix + unetName(key, unetLayout), .whole)
            case .vae: (stored, layout) = (vaeName(key, vae), WeightNameRules.isVAEAttentionProjection(key) ? .squeezed : .whole)
            case .imageEncoder: (stored, layout) = imageTowerName(key, hiddenSize: imageEncoder.hiddenSize)
            }
            table[stored, default: []].append(WeightNameMapping(key, layout))
            expected[key] = stored
        }
        let component = manifest.component
        let (frozen, names) = (table, expected)
        return WeightNameRules(layout: "Stability single file", owns: { owns(component, $0) },
                               rename: { name, _ in frozen[name] }, expectedName: { names[$0] })
    }

    // MARK: UNet

    /// A `UNetSpatioTemporalConditionModel` key → its `VideoUNet` name (without the prefix).
    static func unetName(_ key: String, _ l: UNetLayout) -> String {
        var p = Path(key)
        if p.take("conv_in.") { return "input_blocks.0.0." + p.rest }
        if p.take("time_embedding.linear_1.") { return "time_embed.0." + p.rest }
        if p.take("time_embedding.linear_2.") { return "time_embed.2." + p.rest }
        if p.take("add_embedding.linear_1.") { return "label_emb.0.0." + p.rest }
        if p.take("add_embedding.linear_2.") { return "label_emb.0.2." + p.rest }
        if p.take("conv_norm_out.") { return "out.0." + p.rest }
        if p.take("conv_out.") { return "out.2." + p.rest }
        if p.take("down_blocks."), let i = p.index() {
            // input_blocks.0 is conv_in; each level then has its resnets and (but the last) a downsampler.
            let first = 1 + l.down[..<i].reduce(0) { $0 + $1.layers + 1 }
            if p.take("resnets."), let j = p.index() { return "input_blocks.\(first + j).0." + resnetName(p.rest) }
            if p.take("attentions."), let j = p.index() { return "input_blocks.\(first + j).1." + transformerName(p.rest) }
            if p.take("downsamplers.0.conv.") { return "input_blocks.\(first + l.down[i].layers).0.op." + p.rest }
        }
        if p.take("mid_block.") {
            if p.take("resnets.0.") { return "middle_block.0." + resnetName(p.rest) }
            if p.take("attentions.0.") { return "middle_block.1." + transformerName(p.rest) }
            if p.take("resnets.1.") { return "middle_block.2." + resnetName(p.rest) }
        }
        if p.take("up_blocks."), let i = p.index() {
            // Each output block is one resnet (with its attention); the upsampler joins the level's last one.
            let first = l.up[..<i].reduce(0) { $0 + $1.skipChannels.count }
            let last = first + l.up[i].skipChannels.count - 1
            if p.take("resnets."), let j = p.index() { return "output_blocks.\(first + j).0." + resnetName(p.rest) }
            if p.take("attentions."), let j = p.index() { return "output_blocks.\(first + j).1." + transformerName(p.rest) }
            if p.take("upsamplers.0.conv.") {
                return "output_blocks.\(last).\(l.up[i].heads != nil ? 2 : 1).conv." + p.rest
            }
        }
        return key
    }

    /// Inside `SpatioTemporalResBlock` ↔ sgm `VideoResBlock`.
    static func resnetName(_ rest: String) -> String {
        var p = Path(rest)
        if p.take("spatial_res_block.") { return resBlockName(p.rest) }
        if p.take("temporal_res_block.") { return "time_stack." + resBlockName(p.rest) }
        return rest  // time_mixer.mix_factor
    }

    /// diffusers' `ResnetBlock2D` layer names → ldm's `ResBlock` ones.
    static func resBlockName(_ rest: String) -> String {
        Path.replacingFirst(rest, [("norm1.", "in_layers.0."), ("conv1.", "in_layers.2."), ("time_emb_proj.", "emb_layers.1."),
                                   ("norm2.", "out_layers.0."), ("conv2.", "out_layers.3."), ("conv_shortcut.", "skip_connection.")])
    }

    /// Inside `TransformerSpatioTemporalModel` ↔ sgm `SpatialVideoTransformer`.
    static func transformerName(_ rest: String) -> String {
        Path.replacingFirst(rest, [("temporal_transformer_blocks.", "time_stack."), ("time_pos_embed.linear_1.", "time_pos_embed.0."),
                                   ("time_pos_embed.linear_2.", "time_pos_embed.2.")])
    }

    // MARK: VAE

    /// An `AutoencoderKLTemporalDecoder` key → its full stored name.
    static func vaeName(_ key: String, _ c: VAEConfig) -> String {
        var p = Path(key)
        if p.take("quant_conv.") { return vaeEncoderPrefix + "quant_conv." + p.rest }
        if p.take("encoder.") { return vaeEncoderPrefix + "encoder." + vaeEncoderName(p.rest) }
        if p.take("decoder.") { return vaeDecoderPrefix + "decoder." + vaeDecoderName(p.rest, levels: c.blockOutChannels.count) }
        return key
    }

    static func vaeEncoderName(_ rest: String) -> String {
        var p = Path(rest)
        if p.take("conv_norm_out.") { return "norm_out." + p.rest }
        if p.take("down_blocks."), let i = p.index() {
            if p.take("resnets."), let j = p.index() { return "down.\(i).block.\(j)." + shortcutName(p.rest) }
            if p.take("downsamplers.0.conv.") { return "down.\(i).downsample.conv." + p.rest }
        }
        if p.take("mid_block.") { return midBlockName(&p) { shortcutName($0) } }
        return rest  // conv_in, conv_out
    }

    static func vaeDecoderName(_ rest: String, levels: Int) -> String {
        var p = Path(rest)
        if p.take("conv_norm_out.") { return "norm_out." + p.rest }
        if p.take("time_conv_out.") { return "conv_out.time_mix_conv." + p.rest }
        if p.take("up_blocks."), let i = p.index() {
            // sgm numbers the decoder's levels from the bottom: up_blocks.i is up.(levels − 1 − i).
            let level = levels - 1 - i
            if p.take("resnets."), let j = p.index() { return "up.\(level).block.\(j)." + videoResBlockName(p.rest) }
            if p.take("upsamplers.0.conv.") { return "up.\(level).upsample.conv." + p.rest }
        }
        if p.take("mid_block.") { return midBlockName(&p) { videoResBlockName($0) } }
        return rest  // conv_in, conv_out
    }

    /// `mid_block.resnets.k` → `mid.block_(k+1)`; `mid_block.attentions.0` → `mid.attn_1` (1×1 conv projections).
    static func midBlockName(_ p: inout Path, resnet: (String) -> String) -> String {
        if p.take("resnets."), let k = p.index() { return "mid.block_\(k + 1)." + resnet(p.rest) }
        if p.take("attentions.0.") {
            return "mid.attn_1." + Path.replacingFirst(p.rest, [("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."),
                                                               ("to_v.", "v."), ("to_out.0.", "proj_out.")])
        }
        return p.rest
    }

    static func shortcutName(_ rest: String) -> String { Path.replacingFirst(rest, [("conv_shortcut.", "nin_shortcut.")]) }

    /// Inside the decoder's `SpatioTemporalResBlock` ↔ sgm's `VideoResBlock`: the spatial layers sit on the block
    /// itself, the temporal ones under `time_stack`, the blend factor is the block's `mix_factor`.
    static func videoResBlockName(_ rest: String) -> String {
        var p = Path(rest)
        if p.take("spatial_res_block.") { return shortcutName(p.rest) }
        if p.take("temporal_res_block.") { return "time_stack." + resBlockName(p.rest) }
        if p.take("time_mixer.") { return p.rest }
        return rest
    }

    // MARK: Image encoder

    /// A `CLIPVisionModelWithProjection` key → its OpenCLIP name and the part of that tensor it reads.
    static func imageTowerName(_ key: String, hiddenSize d: Int) -> (String, WeightLayout) {
        var p = Path(key)
        if p.take("visual_projection.weight") { return (imageTowerPrefix + "proj", .transposed) }
        guard p.take("vision_model.") else { return (key, .whole) }
        if p.take("embeddings.class_embedding") { return (imageTowerPrefix + "class_embedding", .whole) }
        if p.take("embeddings.position_embedding.weight") { return (imageTowerPrefix + "positional_embedding", .whole) }
        if p.take("embeddings.patch_embedding.") { return (imageTowerPrefix + "conv1." + p.rest, .whole) }
        if p.take("pre_layrnorm.") { return (imageTowerPrefix + "ln_pre." + p.rest, .whole) }
        if p.take("post_layernorm.") { return (imageTowerPrefix + "ln_post." + p.rest, .whole) }
        if p.take("encoder.layers."), let n = p.index() {
            let block = imageTowerPrefix + "transformer.resblocks.\(n)."
            for (part, name) in ["q_proj", "k_proj", "v_proj"].enumerated() {
                if p.take("self_attn.\(name).") { return (block + "attn.in_proj_" + p.rest, .rows(part * d..<(part + 1) * d)) }
            }
            return (block + Path.replacingFirst(p.rest, [("self_attn.out_proj.", "attn.out_proj."), ("layer_norm1.", "ln_1."),
                                                         ("layer_norm2.", "ln_2."), ("mlp.fc1.", "mlp.c_fc."),
                                                         ("mlp.fc2.", "mlp.c_proj.")]), .whole)
        }
        return (key, .whole)
    }
}

/// A dotted key read from the front.
struct Path {
    private var unread: Substring

    init(_ key: String) { unread = Substring(key) }

    /// What has not been read yet.
    var rest: String { String(unread) }

    /// Drops `prefix` when the rest starts with it.
    mutating func take(_ prefix: String) -> Bool {
        guard unread.hasPrefix(prefix) else { return false }
        unread = unread.dropFirst(prefix.count)
        return true
    }

    /// Reads "N." and returns N.
    mutating func index() -> Int? {
        guard let dot = unread.firstIndex(of: "."), let n = Int(unread[..<dot]) else { return nil }
        unread = unread[unread.index(after: dot)...]
        return n
    }

    /// `text` with the first matching prefix replaced.
    static func replacingFirst(_ text: String, _ pairs: [(String, String)]) -> String {
        for (old, new) in pairs where text.hasPrefix(old) { return new + text.dropFirst(old.count) }
        return text
    }
}
