import Foundation
import XCTest
import SVDCore
import TestSupport
@testable import SVDModels

final class WeightManifestTests: XCTestCase {
    // MARK: The published SVD-XT configs

    static let xtUNetJSON = """
        {"_class_name": "UNetSpatioTemporalConditionModel", "_diffusers_version": "0.24.0.dev0",
         "addition_time_embed_dim": 256, "block_out_channels": [320, 640, 1280, 1280], "cross_attention_dim": 1024,
         "down_block_types": ["CrossAttnDownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal",
                              "CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"],
         "in_channels": 8, "layers_per_block": 2, "num_attention_heads": [5, 10, 20, 20], "num_frames": 25,
         "out_channels": 4, "projection_class_embeddings_input_dim": 768, "sample_size": 96,
         "transformer_layers_per_block": 1,
         "up_block_types": ["UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal",
                            "CrossAttnUpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"]}
        """
    static let xtVAEJSON = """
        {"_class_name": "AutoencoderKLTemporalDecoder", "block_out_channels": [128, 256, 512, 512],
         "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
         "force_upcast": true, "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "out_channels": 3,
         "sample_size": 768, "scaling_factor": 0.18215}
        """
    static let xtCLIPJSON = """
        {"architectures": ["CLIPVisionModelWithProjection"], "attention_dropout": 0.0, "dropout": 0.0,
         "hidden_act": "gelu", "hidden_size": 1280, "image_size": 224, "initializer_factor": 1.0,
         "initializer_range": 0.02, "intermediate_size": 5120, "layer_norm_eps": 1e-05, "model_type": "clip_vision_model",
         "num_attention_heads": 16, "num_channels": 3, "num_hidden_layers": 32, "patch_size": 14, "projection_dim": 1024,
         "torch_dtype": "float16"}
        """

    static func xt() throws -> (unet: WeightManifest, vae: WeightManifest, clip: WeightManifest) {
        (.unet(try UNetConfig.decode(Data(xtUNetJSON.utf8))),
         .vae(try VAEConfig.decode(Data(xtVAEJSON.utf8))),
         .clipVision(try CLIPVisionConfig.decode(Data(xtCLIPJSON.utf8))))
    }

    func testFullSizeCountsMatchTheSpec() throws {
        let m = try Self.xt()
        XCTAssertEqual(m.unet.tensorCount, 1428)
        XCTAssertEqual(m.unet.parameterCount, 1_524_623_082)
        XCTAssertEqual(m.vae.tensorCount, 374)
        XCTAssertEqual(m.vae.parameterCount, 97_742_847)
        XCTAssertEqual(m.clip.tensorCount, 520)
        XCTAssertEqual(m.clip.parameterCount, 632_076_800)
        XCTAssertFalse(m.clip.keys.contains("vision_model.embeddings.position_ids"))
    }

    func testDiffusersDefaultsAreTheSVDUNet() throws {
        XCTAssertEqual(try UNetConfig(sampleSize: 96), try UNetConfig.decode(Data(Self.xtUNetJSON.utf8), file: "x"))
        XCTAssertEqual(WeightManifest.unet(try UNetConfig()), try Self.xt().unet)
        // The 14-frame base model has the same weights.
        XCTAssertEqual(WeightManifest.unet(try UNetConfig(numFrames: 14)), try Self.xt().unet)
    }

    func testFullSizeUNetShapes() throws {
        let m = try Self.xt().unet
        let expected: [String: [Int]] = [
            "conv_in.weight": [320, 8, 3, 3], "conv_in.bias": [320],
            "time_embedding.linear_1.weight": [1280, 320], "time_embedding.linear_2.weight": [1280, 1280],
            "add_embedding.linear_1.weight": [1280, 768], "add_embedding.linear_2.bias": [1280],
            "conv_norm_out.weight": [320], "conv_out.weight": [4, 320, 3, 3], "conv_out.bias": [4],
            // STRes groups
            "down_blocks.0.resnets.0.spatial_res_block.conv1.weight": [320, 320, 3, 3],
            "down_blocks.0.resnets.1.spatial_res_block.time_emb_proj.weight": [320, 1280],
            "down_blocks.1.resnets.0.spatial_res_block.conv_shortcut.weight": [640, 320, 1, 1],
            "down_blocks.1.resnets.0.spatial_res_block.norm1.weight": [320],
            "down_blocks.1.resnets.0.temporal_res_block.conv1.weight": [640, 640, 3, 1, 1],
            "down_blocks.2.resnets.0.spatial_res_block.conv_shortcut.bias": [1280],
            "down_blocks.3.resnets.1.temporal_res_block.time_emb_proj.weight": [1280, 1280],
            "down_blocks.3.resnets.1.time_mixer.mix_factor": [1],
            "mid_block.resnets.1.temporal_res_block.conv2.weight": [1280, 1280, 3, 1, 1],
            "up_blocks.0.resnets.0.spatial_res_block.conv1.weight": [1280, 2560, 3, 3],
            "up_blocks.0.resnets.2.spatial_res_block.conv_shortcut.weight": [1280, 2560, 1, 1],
            "up_blocks.1.resnets.2.spatial_res_block.conv1.weight": [1280, 1920, 3, 3],
            "up_blocks.2.resnets.0.spatial_res_block.norm1.weight": [1920],
            "up_blocks.2.resnets.1.spatial_res_block.conv1.weight": [640, 1280, 3, 3],
            "up_blocks.2.resnets.2.spatial_res_block.conv_shortcut.weight": [640, 960, 1, 1],
            "up_blocks.3.resnets.0.spatial_res_block.conv1.weight": [320, 960, 3, 3],
            "up_blocks.3.resnets.1.spatial_res_block.conv1.weight": [320, 640, 3, 3],
            "up_blocks.3.resnets.2.spatial_res_block.conv_shortcut.weight": [320, 640, 1, 1],
            // Transformer groups
            "down_blocks.0.attentions.0.norm.weight": [320],
            "down_blocks.0.attentions.1.proj_in.weight": [320, 320],
            "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight": [640, 640],
            "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": [640, 1024],
            "down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_v.weight": [1280, 1024],
            "down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_out.0.bias": [1280],
            "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight": [10240, 1280],
            "mid_block.attentions.0.transformer_blocks.0.ff.net.2.weight": [1280, 5120],
            "up_blocks.1.attentions.2.temporal_transformer_blocks.0.norm_in.bias": [1280],
            "up_blocks.2.attentions.0.temporal_transformer_blocks.0.ff_in.net.0.proj.weight": [5120, 640],
            "up_blocks.2.attentions.0.temporal_transformer_blocks.0.ff_in.net.2.bias": [640],
            "up_blocks.3.attentions.2.temporal_transformer_blocks.0.attn2.to_k.weight": [320, 1024],
            "up_blocks.3.attentions.2.time_pos_embed.linear_1.weight": [1280, 320],
            "up_blocks.3.attentions.2.time_pos_embed.linear_2.weight": [320, 1280],
            "up_blocks.3.attentions.2.time_mixer.mix_factor": [1],
            "up_blocks.3.attentions.2.proj_out.bias": [320],
            // Resampling
            "down_blocks.2.downsamplers.0.conv.weight": [1280, 1280, 3, 3],
            "up_blocks.2.upsamplers.0.conv.weight": [640, 640, 3, 3],
        ]
        for (key, shape) in expected { XCTAssertEqual(m[key], shape, key) }
        let absent = ["down_blocks.3.downsamplers.0.conv.weight", "up_blocks.3.upsamplers.0.conv.weight",
                      "down_blocks.3.attentions.0.norm.weight", "up_blocks.0.attentions.0.norm.weight",
                      "down_blocks.0.resnets.0.spatial_res_block.conv_shortcut.weight",
                      "up_blocks.0.resnets.0.temporal_res_block.conv_shortcut.weight",
                      "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias",
                      "down_blocks.0.attentions.0.transformer_blocks.1.norm1.weight"]
        for key in absent { XCTAssertNil(m[key], key) }
        XCTAssertEqual(m.keys.filter { $0.hasSuffix("mix_factor") }.count, 22 + 16, "22 STRes blocks, 16 transformers")
    }

    func testFullSizeVAEShapes() throws {
        let m = try Self.xt().vae
        let expected: [String: [Int]] = [
            "encoder.conv_in.weight": [128, 3, 3, 3],
            "encoder.down_blocks.0.resnets.1.conv2.weight": [128, 128, 3, 3],
            "encoder.down_blocks.1.resnets.0.conv_shortcut.weight": [256, 128, 1, 1],
            "encoder.down_blocks.2.resnets.0.norm1.bias": [256],
            "encoder.down_blocks.2.downsamplers.0.conv.weight": [512, 512, 3, 3],
            "encoder.mid_block.attentions.0.group_norm.weight": [512],
            "encoder.mid_block.attentions.0.to_q.weight": [512, 512],
            "encoder.mid_block.attentions.0.to_v.bias": [512],
            "encoder.mid_block.attentions.0.to_out.0.weight": [512, 512],
            "encoder.conv_norm_out.bias": [512],
            "encoder.conv_out.weight": [8, 512, 3, 3],
            "quant_conv.weight": [8, 8, 1, 1],
            "decoder.conv_in.weight": [512, 4, 3, 3],
            "decoder.mid_block.resnets.1.temporal_res_block.conv1.weight": [512, 512, 3, 1, 1],
            "decoder.mid_block.attentions.0.to_k.bias": [512],
            "decoder.up_blocks.1.resnets.2.time_mixer.mix_factor": [1],
            "decoder.up_blocks.2.resnets.0.spatial_res_block.conv_shortcut.weight": [256, 512, 1, 1],
            "decoder.up_blocks.3.resnets.0.spatial_res_block.conv1.weight": [128, 256, 3, 3],
            "decoder.up_blocks.3.resnets.2.temporal_res_block.norm2.weight": [128],
            "decoder.up_blocks.2.upsamplers.0.conv.weight": [256, 256, 3, 3],
            "decoder.conv_norm_out.weight": [128],
            "decoder.conv_out.weight": [3, 128, 3, 3],
            "decoder.time_conv_out.weight": [3, 3, 3, 1, 1],
            "decoder.time_conv_out.bias": [3],
        ]
        for (key, shape) in expected { XCTAssertEqual(m[key], shape, key) }
        for key in ["post_quant_conv.weight", "decoder.up_blocks.3.upsamplers.0.conv.weight",
                    "decoder.mid_block.resnets.0.spatial_res_block.time_emb_proj.weight",
                    "decoder.up_blocks.0.resnets.0.spatial_res_block.conv_shortcut.weight",
                    "encoder.down_blocks.3.downsamplers.0.conv.weight"] {
            XCTAssertNil(m[key], key)
        }
    }

    func testFullSizeCLIPShapes() throws {
        let m = try Self.xt().clip
        let expected: [String: [Int]] = [
            "vision_model.embeddings.class_embedding": [1280],
            "vision_model.embeddings.patch_embedding.weight": [1280, 3, 14, 14],
            "vision_model.embeddings.position_embedding.weight": [257, 1280],
            "vision_model.pre_layrnorm.weight": [1280],
            "vision_model.encoder.layers.0.self_attn.q_proj.weight": [1280, 1280],
            "vision_model.encoder.layers.31.self_attn.out_proj.bias": [1280],
            "vision_model.encoder.layers.17.layer_norm2.weight": [1280],
            "vision_model.encoder.layers.31.mlp.fc1.weight": [5120, 1280],
            "vision_model.encoder.layers.31.mlp.fc1.bias": [5120],
            "vision_model.encoder.layers.5.mlp.fc2.weight": [1280, 5120],
            "vision_model.post_layernorm.bias": [1280],
            "visual_projection.weight": [1024, 1280],
        ]
        for (key, shape) in expected { XCTAssertEqual(m[key], shape, key) }
        for key in ["visual_projection.bias", "vision_model.embeddings.patch_embedding.bias", "vision_model.encoder.layers.32.mlp.fc1.weight"] {
            XCTAssertNil(m[key], key)
        }
    }

    // MARK: The tiny demo model

    func testTinyManifestsMatchTheDemoFilesExactly() throws {
        let root = Fixtures.demoModel
        let cases: [(WeightManifest, String)] = [
            (.unet(try UNetConfig.load(from: root.appendingPathComponent("unet/config.json"))), "unet/diffusion_pytorch_model.safetensors"),
            (.vae(try VAEConfig.load(from: root.appendingPathComponent("vae/config.json"))), "vae/diffusion_pytorch_model.safetensors"),
            (.clipVision(try CLIPVisionConfig.load(from: root.appendingPathComponent("image_encoder/config.json"))), "image_encoder/model.safetensors"),
        ]
        for (manifest, path) in cases {
            let file = try SafeTensorsFile(path: root.appendingPathComponent(path).path)
            let stored = file.tensors.mapValues(\.shape)
            XCTAssertEqual(Set(manifest.keys), Set(stored.keys), path)
            for (key, shape) in stored { XCTAssertEqual(manifest[key], shape, "\(path): \(key)") }
        }
    }

    func testPerBlockSettingsChangeTheManifest() throws {
        let config = try UNetConfig(blockOutChannels: [32, 32, 64, 64], transformerLayersPerBlock: [1, 1, 2, 2],
                                    numAttentionHeads: [2, 2, 4, 4], crossAttentionDim: 32, additionTimeEmbedDim: 16,
                                    projectionClassEmbeddingsInputDim: 48)
        let m = WeightManifest.unet(config)
        XCTAssertNotNil(m["down_blocks.2.attentions.1.transformer_blocks.1.attn1.to_q.weight"])
        XCTAssertNotNil(m["mid_block.attentions.0.temporal_transformer_blocks.1.ff.net.2.weight"])
        XCTAssertNotNil(m["up_blocks.1.attentions.0.transformer_blocks.1.norm3.bias"])
        XCTAssertNil(m["up_blocks.2.attentions.0.transformer_blocks.1.norm3.bias"])
        XCTAssertNil(m["down_blocks.1.attentions.0.transformer_blocks.1.norm3.bias"])

        let threeLayers = WeightManifest.unet(try UNetConfig(layersPerBlock: [3, 3, 3, 3]))
        XCTAssertNotNil(threeLayers["down_blocks.0.resnets.2.spatial_res_block.conv1.weight"])
        XCTAssertNotNil(threeLayers["up_blocks.0.resnets.3.spatial_res_block.conv1.weight"])
        XCTAssertEqual(threeLayers["up_blocks.3.resnets.3.spatial_res_block.conv1.weight"], [320, 640, 3, 3])
    }

    // MARK: Validation against full-size key lists (no weight data needed)

    func testAFullSizeCheckpointResolves() throws {
        let m = try Self.xt()
        for manifest in [m.unet, m.vae, m.clip] {
            let resolution = try manifest.resolve(shapes: manifest.shapes, source: "svd_xt/\(manifest.component.folder)")
            XCTAssertEqual(resolution.bindings.count, manifest.tensorCount)
            XCTAssertEqual(resolution.warnings, [])
            XCTAssertTrue(resolution.bindings.allSatisfy { $0.key == $0.value.storedName && $0.value.shape == $0.value.storedShape })
        }
        // An fp16 checkpoint with an old CLIP export's position_ids buffer.
        var stored = m.clip.shapes.mapValues { StoredTensor(shape: $0, dtype: .f16, file: "model.fp16.safetensors") }
        stored["vision_model.embeddings.position_ids"] = StoredTensor(shape: [1, 257], dtype: .i64, file: "model.fp16.safetensors")
        let clip = try m.clip.resolve(stored, source: "model.fp16.safetensors")
        XCTAssertEqual(clip.warnings, [])
        XCTAssertEqual(clip.bindings.count, 520)
    }

    func testFullSizeLegacyVAEResolves() throws {
        let vae = try Self.xt().vae
        var stored = vae.shapes
        for p in ["encoder.mid_block.attentions.0", "decoder.mid_block.attentions.0"] {
            for (new, old) in [("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn")] {
                stored["\(p).\(old).weight"] = stored.removeValue(forKey: "\(p).\(new).weight")! + [1, 1]
                stored["\(p).\(old).bias"] = stored.removeValue(forKey: "\(p).\(new).bias")!
            }
        }
        let resolution = try vae.resolve(shapes: stored)
        XCTAssertEqual(resolution.warnings, [])
        let binding = try XCTUnwrap(resolution.bindings["encoder.mid_block.attentions.0.to_out.0.weight"])
        XCTAssertEqual(binding.storedName, "encoder.mid_block.attentions.0.proj_attn.weight")
        XCTAssertEqual(binding.storedShape, [512, 512, 1, 1])
        XCTAssertEqual(binding.shape, [512, 512])
        // Only the attention Linears may be squeezed.
        var conv = vae.shapes
        conv["quant_conv.weight"] = [8, 8]
        XCTAssertThrowsError(try vae.resolve(shapes: conv))
    }

    func testEveryProblemInAFullSizeCheckpointIsListedOnce() throws {
        let unet = try Self.xt().unet
        var stored = unet.shapes
        stored["conv_in.weight"] = [320, 4, 3, 3]                          // an SD-style 4-channel UNet
        stored.removeValue(forKey: "add_embedding.linear_1.weight")
        stored.removeValue(forKey: "mid_block.attentions.0.time_mixer.mix_factor")
        stored["up_blocks.0.resnets.0.spatial_res_block.conv1.weight"] = [1280, 1280, 3, 3]
        stored["model_ema.decay"] = []
        XCTAssertThrowsError(try unet.resolve(shapes: stored, source: "svd.safetensors")) { error in
            guard let e = error as? WeightValidationError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.component, .unet)
            XCTAssertEqual(e.source, "svd.safetensors")
            XCTAssertEqual(e.missing.map(\.key), ["add_embedding.linear_1.weight", "mid_block.attentions.0.time_mixer.mix_factor"])
            XCTAssertEqual(e.shapeMismatches.map(\.key), ["conv_in.weight", "up_blocks.0.resnets.0.spatial_res_block.conv1.weight"])
            XCTAssertEqual(e.problemCount, 4)
            XCTAssertEqual(e.description.split(separator: "\n").count, 5, e.description)
            XCTAssertTrue(e.description.hasPrefix("svd.safetensors: the unet weights do not match its config (4 problems):"),
                          e.description)
        }
        // Extras alone are warnings, not errors.
        var extra = unet.shapes
        extra["model_ema.decay"] = []
        extra["conditioner.embedders.0.weight"] = [2, 2]
        let resolution = try unet.resolve(shapes: extra)
        XCTAssertEqual(resolution.warnings.count, 2)
        XCTAssertTrue(resolution.warnings[0].contains("'conditioner.embedders.0.weight' [2, 2]"), resolution.warnings[0])
    }

    func testAnEmptyOrForeignFileListsEverything() throws {
        let clip = try Self.xt().clip
        XCTAssertThrowsError(try clip.resolve(shapes: [:])) { error in
            XCTAssertEqual((error as? WeightValidationError)?.missing.count, 520)
        }
    }
}
