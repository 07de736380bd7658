import Foundation
import XCTest
import SVDCore
import TestSupport
@testable import SVDModels

/// A writable copy of the demo model for tests that alter files.
final class DemoModelCopy {
    let scratch: ScratchDirectory
    var url: URL { scratch.path("model") }

    init() throws {
        scratch = try ScratchDirectory("model-directory-tests")
        try FileManager.default.copyItem(at: Fixtures.demoModel, to: url)
    }

    func path(_ relative: String) -> URL { url.appendingPathComponent(relative) }

    func file(_ relative: String) throws -> SafeTensorsFile { try SafeTensorsFile(path: path(relative).path) }

    func remove(_ relative: String) throws { try FileManager.default.removeItem(at: path(relative)) }

    func copy(_ from: String, to: String) throws { try FileManager.default.copyItem(at: path(from), to: path(to)) }

    /// Rewrites a weight file through `edit`, starting from all of its tensors.
    func rewrite(_ relative: String, to target: String? = nil, _ edit: (inout SafeTensorsWriter, SafeTensorsFile) throws -> Void) throws {
        let original = try file(relative)
        var writer = SafeTensorsWriter()
        try writer.copyAll(from: original)
        try edit(&writer, original)
        try writer.write(to: path(target ?? relative))
    }

    /// Edits a JSON config in place.
    func editJSON(_ relative: String, _ edit: (inout [String: Any]) -> Void) throws {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: path(relative))) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: path(relative))
    }
}

final class ModelDirectoryTests: XCTestCase {
    private func json(_ relative: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.demoModel.appendingPathComponent(relative))) as! [String: Any]
    }

    private func ints(_ v: Any?) -> [Int] { (v as! [NSNumber]).map(\.intValue) }

    // MARK: The demo model

    func testDemoModelConfigsEqualTheirJSONFiles() throws {
        let model = try ModelDirectory(url: Fixtures.demoModel)

        let u = try json("unet/config.json"), unet = model.unetConfig
        XCTAssertEqual(unet.inChannels, u["in_channels"] as? Int)
        XCTAssertEqual(unet.outChannels, u["out_channels"] as? Int)
        XCTAssertEqual(unet.blockOutChannels, ints(u["block_out_channels"]))
        XCTAssertEqual(unet.downBlockTypes, u["down_block_types"] as? [String])
        XCTAssertEqual(unet.upBlockTypes, u["up_block_types"] as? [String])
        XCTAssertEqual(unet.layersPerBlock, Array(repeating: u["layers_per_block"] as! Int, count: 4))
        XCTAssertEqual(unet.transformerLayersPerBlock, Array(repeating: u["transformer_layers_per_block"] as! Int, count: 4))
        XCTAssertEqual(unet.numAttentionHeads, ints(u["num_attention_heads"]))
        XCTAssertEqual(unet.crossAttentionDim, u["cross_attention_dim"] as? Int)
        XCTAssertEqual(unet.additionTimeEmbedDim, u["addition_time_embed_dim"] as? Int)
        XCTAssertEqual(unet.projectionClassEmbeddingsInputDim, u["projection_class_embeddings_input_dim"] as? Int)
        XCTAssertEqual(unet.numFrames, u["num_frames"] as? Int)
        XCTAssertEqual(unet.sampleSize, u["sample_size"] as? Int)
        XCTAssertEqual(unet.timeEmbedDim, 128)

        let v = try json("vae/config.json"), vae = model.vaeConfig
        XCTAssertEqual(vae.inChannels, v["in_channels"] as? Int)
        XCTAssertEqual(vae.outChannels, v["out_channels"] as? Int)
        XCTAssertEqual(vae.downBlockTypes, v["down_block_types"] as? [String])
        XCTAssertEqual(vae.blockOutChannels, ints(v["block_out_channels"]))
        XCTAssertEqual(vae.layersPerBlock, v["layers_per_block"] as? Int)
        XCTAssertEqual(vae.latentChannels, v["latent_channels"] as? Int)
        XCTAssertEqual(vae.scalingFactor, v["scaling_factor"] as? Double)
        XCTAssertEqual(vae.forceUpcast, v["force_upcast"] as? Bool)
        XCTAssertEqual(vae.sampleSize, v["sample_size"] as? Int)

        let c = try json("image_encoder/config.json"), clip = model.imageEncoderConfig
        XCTAssertEqual(clip.hiddenSize, c["hidden_size"] as? Int)
        XCTAssertEqual(clip.intermediateSize, c["intermediate_size"] as? Int)
        XCTAssertEqual(clip.numHiddenLayers, c["num_hidden_layers"] as? Int)
        XCTAssertEqual(clip.numAttentionHeads, c["num_attention_heads"] as? Int)
        XCTAssertEqual(clip.patchSize, c["patch_size"] as? Int)
        XCTAssertEqual(clip.imageSize, c["image_size"] as? Int)
        XCTAssertEqual(clip.numChannels, c["num_channels"] as? Int)
        XCTAssertEqual(clip.projectionDim, c["projection_dim"] as? Int)
        XCTAssertEqual(clip.hiddenAct.rawValue, c["hidden_act"] as? String)
        XCTAssertEqual(clip.layerNormEps, c["layer_norm_eps"] as? Double)
        XCTAssertEqual(clip.numPositions, 257)

        let s = try json("scheduler/scheduler_config.json"), sched = model.schedulerConfig
        XCTAssertEqual(sched.sigmaMin, s["sigma_min"] as? Double)
        XCTAssertEqual(sched.sigmaMax, s["sigma_max"] as? Double)
        XCTAssertEqual(sched.predictionType, s["prediction_type"] as? String)
        XCTAssertEqual(sched.timestepType, s["timestep_type"] as? String)
        XCTAssertEqual(sched.useKarrasSigmas, s["use_karras_sigmas"] as? Bool)
        XCTAssertEqual(sched.timestepSpacing.rawValue, s["timestep_spacing"] as? String)
        XCTAssertTrue(sched.timestepSpacing.initNoiseIncludesUnitVariance)
        XCTAssertEqual(sched.finalSigmasType, "zero", "absent from the file: diffusers' default")
        XCTAssertEqual(sched.numTrainTimesteps, s["num_train_timesteps"] as? Int)
        XCTAssertEqual(sched.betaStart, s["beta_start"] as? Double)
        XCTAssertEqual(sched.betaEnd, s["beta_end"] as? Double)
        XCTAssertEqual(sched.betaSchedule, s["beta_schedule"] as? String)
        XCTAssertEqual(sched.stepsOffset, s["steps_offset"] as? Int)
        XCTAssertEqual(sched.interpolationType, s["interpolation_type"] as? String)
        XCTAssertEqual(sched, SchedulerConfig.svd)

        let f = try json("feature_extractor/preprocessor_config.json")
        XCTAssertEqual(model.featureExtractorConfig.imageMean, f["image_mean"] as? [Double])
        XCTAssertEqual(model.featureExtractorConfig.imageStd, f["image_std"] as? [Double])

        XCTAssertEqual(model.index.className, "StableVideoDiffusionPipeline")
        XCTAssertEqual(model.index.diffusersVersion, "0.42.1")
        XCTAssertEqual(model.index.components["unet"], .init(library: "diffusers", className: "UNetSpatioTemporalConditionModel"))
        XCTAssertEqual(model.index.components["image_encoder"], .init(library: "transformers", className: "CLIPVisionModelWithProjection"))
    }

    func testDemoModelWeightsAllResolveWithoutWarnings() throws {
        let model = try ModelDirectory(url: Fixtures.demoModel)
        XCTAssertEqual(model.warnings, [])
        XCTAssertEqual(model.notes, [])
        XCTAssertEqual(model.loadedVariants, [.unet: .fp32, .vae: .fp32, .imageEncoder: .fp32])
        let expectedCounts: [ModelComponent: Int] = [.unet: 1426, .vae: 370, .imageEncoder: 40]
        for set in model.weightSets {
            let file = try SafeTensorsFile(path: set.files.files[0].path)
            XCTAssertEqual(set.keys.count, expectedCounts[set.component], "\(set.component)")
            XCTAssertEqual(Set(set.keys), Set(file.tensors.keys), "\(set.component): every stored tensor is used")
            XCTAssertEqual(set.storedDTypes, [.f16], "the demo model stores float16 in its plain files")
            for key in set.keys {
                let t = try set.tensor(key)
                XCTAssertEqual(t.shape, set.manifest[key], key)
                XCTAssertEqual(set.shape(key), t.shape)
            }
        }
        let w = try model.unet.tensor("conv_in.weight")
        let direct = try SafeTensorsFile(path: Fixtures.demoModel.appendingPathComponent("unet/diffusion_pytorch_model.safetensors").path)
        XCTAssertEqual(w.array, try direct.tensor("conv_in.weight").array)
        XCTAssertEqual(model.loadedFiles, [
            "model_index.json", "feature_extractor/preprocessor_config.json", "image_encoder/config.json",
            "scheduler/scheduler_config.json", "unet/config.json", "vae/config.json",
            "unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
            "image_encoder/model.safetensors",
        ])
        // The weight set serves the networks' generic weight-source interface.
        let scoped = Weights(model.vae)["decoder.conv_out"]
        XCTAssertEqual(try scoped.tensor("weight", shape: [3, 32, 3, 3]).shape, [3, 32, 3, 3])
        XCTAssertThrowsError(try scoped.tensor("weight", shape: [3, 16, 3, 3])) { error in
            XCTAssertEqual(error as? WeightShapeError,
                           WeightShapeError(key: "decoder.conv_out.weight", expected: [3, 16, 3, 3], actual: [3, 32, 3, 3]))
        }
        XCTAssertThrowsError(try model.vae.tensor("decoder.nonexistent.weight")) { error in
            XCTAssertEqual(error as? UnknownWeightError, UnknownWeightError(component: .vae, key: "decoder.nonexistent.weight"))
        }
    }

    // MARK: Validation at load time

    func testMissingTensorAndWrongShapeAreReportedTogether() throws {
        let copy = try DemoModelCopy()
        try copy.rewrite("unet/diffusion_pytorch_model.safetensors") { w, _ in
            w.remove("conv_in.bias")
            w.remove("conv_out.weight")
            w.addPattern("conv_out.weight", shape: [4, 32, 1, 1])
            w.remove("down_blocks.0.attentions.0.proj_in.weight")
        }
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard let e = error as? WeightValidationError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.component, .unet)
            XCTAssertEqual(e.missing.map(\.key), ["conv_in.bias", "down_blocks.0.attentions.0.proj_in.weight"])
            XCTAssertEqual(e.missing.map(\.expectedShape), [[32], [32, 32]])
            XCTAssertEqual(e.shapeMismatches.count, 1)
            XCTAssertEqual(e.shapeMismatches.first?.key, "conv_out.weight")
            XCTAssertEqual(e.shapeMismatches.first?.foundShape, [4, 32, 1, 1])
            XCTAssertEqual(e.shapeMismatches.first?.expectedShape, [4, 32, 3, 3])
            let text = e.description
            for fragment in ["unet/diffusion_pytorch_model.safetensors", "3 problems", "missing tensor 'conv_in.bias' [32]",
                             "tensor 'conv_out.weight'", "has shape [4, 32, 1, 1], expected [4, 32, 3, 3]",
                             "down_blocks.0.attentions.0.proj_in.weight"] {
                XCTAssertTrue(text.contains(fragment), "'\(fragment)' not in:\n\(text)")
            }
        }
    }

    func testNonFloatWeightIsReported() throws {
        let copy = try DemoModelCopy()
        try copy.rewrite("vae/diffusion_pytorch_model.safetensors") { w, _ in
            w.remove("quant_conv.bias")
            w.add("quant_conv.bias", dtype: "I32", shape: [8], bytes: [UInt8](repeating: 0, count: 32))
        }
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard let e = error as? WeightValidationError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.badDTypes.map(\.key), ["quant_conv.bias"])
            XCTAssertTrue(e.description.contains("dtype I32"), e.description)
        }
    }

    func testExtraTensorIsAWarningAndPositionIdsAreIgnored() throws {
        let copy = try DemoModelCopy()
        try copy.rewrite("vae/diffusion_pytorch_model.safetensors") { w, _ in
            w.addPattern("decoder.leftover.weight", shape: [2, 2])
        }
        try copy.rewrite("image_encoder/model.safetensors") { w, _ in
            w.add("vision_model.embeddings.position_ids", dtype: "I64", shape: [1, 257],
                  bytes: (0..<257).flatMap { SafeTensorsWriter.littleEndian(Int64($0)) })
        }
        let model = try ModelDirectory(url: copy.url)
        XCTAssertEqual(model.warnings.count, 1, "\(model.warnings)")
        let warning = try XCTUnwrap(model.warnings.first)
        XCTAssertTrue(warning.contains("decoder.leftover.weight"), warning)
        XCTAssertTrue(warning.contains("vae/diffusion_pytorch_model.safetensors"), warning)
        XCTAssertEqual(model.vae.warnings, [warning])
        XCTAssertEqual(model.imageEncoder.warnings, [])
        XCTAssertFalse(model.imageEncoder.contains("vision_model.embeddings.position_ids"))
    }

    func testLegacyVAEAttentionNamesAndFourDimensionalWeights() throws {
        let copy = try DemoModelCopy()
        let renames = ["to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"]
        try copy.rewrite("vae/diffusion_pytorch_model.safetensors") { w, original in
            let p = "encoder.mid_block.attentions.0"
            for (new, old) in renames {
                for kind in ["weight", "bias"] {
                    w.remove("\(p).\(new).\(kind)")
                    try w.copy("\(p).\(new).\(kind)", from: original, as: "\(p).\(old).\(kind)",
                               shape: kind == "weight" ? [64, 64, 1, 1] : nil)
                }
            }
        }
        let model = try ModelDirectory(url: copy.url)
        XCTAssertEqual(model.warnings, [])
        let original = try SafeTensorsFile(path: Fixtures.demoModel.appendingPathComponent("vae/diffusion_pytorch_model.safetensors").path)
        for new in renames.keys {
            for kind in ["weight", "bias"] {
                let key = "encoder.mid_block.attentions.0.\(new).\(kind)"
                let t = try model.vae.tensor(key)
                XCTAssertEqual(t.shape, kind == "weight" ? [64, 64] : [64], key)
                XCTAssertEqual(t.array, try original.tensor(key).array, key)
            }
        }
        XCTAssertEqual(model.vae.bindings["encoder.mid_block.attentions.0.to_out.0.weight"]?.storedName,
                       "encoder.mid_block.attentions.0.proj_attn.weight")
    }

    func testCurrentAndLegacyNameForTheSameTensorConflict() throws {
        let copy = try DemoModelCopy()
        try copy.rewrite("vae/diffusion_pytorch_model.safetensors") { w, original in
            try w.copy("encoder.mid_block.attentions.0.to_q.weight", from: original, as: "encoder.mid_block.attentions.0.query.weight")
        }
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard let e = error as? WeightValidationError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.conflicts.map(\.key), ["encoder.mid_block.attentions.0.to_q.weight"])
            XCTAssertTrue(e.description.contains("stored twice"), e.description)
        }
    }

    // MARK: Variants

    /// Adds fp16-variant files for every component. The VAE's plain file is rewritten as real float32 so the
    /// two variants are distinguishable by dtype.
    private func copyWithBothVariants() throws -> DemoModelCopy {
        let copy = try DemoModelCopy()
        try copy.copy("unet/diffusion_pytorch_model.safetensors", to: "unet/diffusion_pytorch_model.fp16.safetensors")
        try copy.copy("vae/diffusion_pytorch_model.safetensors", to: "vae/diffusion_pytorch_model.fp16.safetensors")
        try copy.copy("image_encoder/model.safetensors", to: "image_encoder/model.fp16.safetensors")
        let original = try copy.file("vae/diffusion_pytorch_model.safetensors")
        var w = SafeTensorsWriter()
        for name in original.names {
            let t = try original.tensor(name)
            w.addF32(name, shape: t.shape, values: t.array)
        }
        try w.write(to: copy.path("vae/diffusion_pytorch_model.safetensors"))
        return copy
    }

    func testFP32IsPreferredAndFP16LoadsWhenAsked() throws {
        let copy = try copyWithBothVariants()
        let plain = try ModelDirectory(url: copy.url)
        XCTAssertEqual(plain.loadedVariants, [.unet: .fp32, .vae: .fp32, .imageEncoder: .fp32])
        XCTAssertEqual(plain.vae.storedDTypes, [.f32])
        XCTAssertEqual(plain.notes, [])
        XCTAssertEqual(try ModelDirectory(url: copy.url, variant: .fp32).loadedVariants[.vae], .fp32)

        let half = try ModelDirectory(url: copy.url, variant: .fp16)
        XCTAssertEqual(half.loadedVariants, [.unet: .fp16, .vae: .fp16, .imageEncoder: .fp16])
        XCTAssertEqual(half.vae.storedDTypes, [.f16])
        XCTAssertEqual(half.vae.files.files.map(\.lastPathComponent), ["diffusion_pytorch_model.fp16.safetensors"])
        XCTAssertEqual(half.imageEncoder.files.files.map(\.lastPathComponent), ["model.fp16.safetensors"])
        XCTAssertTrue(half.loadedFiles.contains("image_encoder/model.fp16.safetensors"))
        // Same numbers either way: the fp32 file holds the fp16 values widened.
        XCTAssertEqual(try half.vae.tensor("quant_conv.weight").array, try plain.vae.tensor("quant_conv.weight").array)
    }

    func testFallbackToFP16WithANoteButExplicitFP32IsAnError() throws {
        let copy = try copyWithBothVariants()
        try copy.remove("vae/diffusion_pytorch_model.safetensors")
        let model = try ModelDirectory(url: copy.url)
        XCTAssertEqual(model.loadedVariants, [.unet: .fp32, .vae: .fp16, .imageEncoder: .fp32])
        XCTAssertEqual(model.notes.count, 1)
        XCTAssertTrue(model.notes[0].contains("vae") && model.notes[0].contains("diffusion_pytorch_model.fp16.safetensors"),
                      model.notes[0])

        XCTAssertThrowsError(try ModelDirectory(url: copy.url, variant: .fp32)) { error in
            guard case let .variantNotFound(component, variant, directory, lookedFor, available) = error as? ModelDirectoryError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(component, .vae)
            XCTAssertEqual(variant, .fp32)
            XCTAssertTrue(directory.hasSuffix("/vae"), directory)
            XCTAssertEqual(lookedFor, ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json"])
            XCTAssertEqual(available, .fp16)
            XCTAssertTrue("\(error)".contains("fp16 weights exist"), "\(error)")
        }
    }

    func testRequestedFP16MissingForOneComponentIsAnError() throws {
        let copy = try copyWithBothVariants()
        try copy.remove("image_encoder/model.fp16.safetensors")
        XCTAssertThrowsError(try ModelDirectory(url: copy.url, variant: .fp16)) { error in
            guard case let .variantNotFound(component, variant, _, lookedFor, available) = error as? ModelDirectoryError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(component, .imageEncoder)
            XCTAssertEqual(variant, .fp16)
            XCTAssertEqual(lookedFor, ["model.fp16.safetensors", "model.safetensors.index.fp16.json"])
            XCTAssertEqual(available, .fp32)
        }
    }

    func testNoWeightsAtAll() throws {
        let copy = try DemoModelCopy()
        try copy.remove("unet/diffusion_pytorch_model.safetensors")
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard case let .noWeights(component, _, lookedFor) = error as? ModelDirectoryError else { return XCTFail("\(error)") }
            XCTAssertEqual(component, .unet)
            XCTAssertEqual(lookedFor.count, 4)
        }
    }

    // MARK: Sharded weights

    /// Splits a weight file into `count` shards plus an index, removing the single file.
    private func shard(_ copy: DemoModelCopy, folder: String, single: String, shardPrefix: String, index: String,
                       count: Int = 2) throws -> [String: String] {
        let original = try copy.file("\(folder)/\(single)")
        let names = original.names
        var weightMap: [String: String] = [:]
        for s in 0..<count {
            let shardName = String(format: "\(shardPrefix)-%05d-of-%05d.safetensors", s + 1, count)
            var w = SafeTensorsWriter()
            for (i, name) in names.enumerated() where i % count == s {
                try w.copy(name, from: original)
                weightMap[name] = shardName
            }
            try w.write(to: copy.path("\(folder)/\(shardName)"))
        }
        let indexJSON: [String: Any] = ["metadata": ["total_size": 0], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: indexJSON, options: [.sortedKeys]).write(to: copy.path("\(folder)/\(index)"))
        try copy.remove("\(folder)/\(single)")
        return weightMap
    }

    func testShardedVAELoadsLikeTheSingleFile() throws {
        let copy = try DemoModelCopy()
        _ = try shard(copy, folder: "vae", single: "diffusion_pytorch_model.safetensors",
                      shardPrefix: "diffusion_pytorch_model", index: "diffusion_pytorch_model.safetensors.index.json")
        let model = try ModelDirectory(url: copy.url)
        XCTAssertEqual(model.vae.variant, .fp32)
        XCTAssertEqual(model.vae.files.index?.lastPathComponent, "diffusion_pytorch_model.safetensors.index.json")
        XCTAssertEqual(model.vae.files.files.map(\.lastPathComponent), ["diffusion_pytorch_model-00001-of-00002.safetensors",
                                                                        "diffusion_pytorch_model-00002-of-00002.safetensors"])
        XCTAssertEqual(model.warnings, [])
        XCTAssertTrue(model.loadedFiles.contains("vae/diffusion_pytorch_model.safetensors.index.json"))
        XCTAssertTrue(model.loadedFiles.contains("vae/diffusion_pytorch_model-00002-of-00002.safetensors"))
        let reference = try ModelDirectory(url: Fixtures.demoModel)
        for key in model.vae.keys {
            XCTAssertEqual(try model.vae.tensor(key).array, try reference.vae.tensor(key).array, key)
        }
    }

    func testShardedFP16VariantAndTransformersIndex() throws {
        let copy = try DemoModelCopy()
        try copy.copy("vae/diffusion_pytorch_model.safetensors", to: "vae/diffusion_pytorch_model.fp16.safetensors")
        try copy.copy("image_encoder/model.safetensors", to: "image_encoder/model.fp16.safetensors")
        try copy.copy("unet/diffusion_pytorch_model.safetensors", to: "unet/diffusion_pytorch_model.fp16.safetensors")
        _ = try shard(copy, folder: "vae", single: "diffusion_pytorch_model.fp16.safetensors",
                      shardPrefix: "diffusion_pytorch_model.fp16", index: "diffusion_pytorch_model.safetensors.index.fp16.json",
                      count: 3)
        _ = try shard(copy, folder: "image_encoder", single: "model.safetensors", shardPrefix: "model",
                      index: "model.safetensors.index.json")
        let half = try ModelDirectory(url: copy.url, variant: .fp16)
        XCTAssertEqual(half.vae.files.index?.lastPathComponent, "diffusion_pytorch_model.safetensors.index.fp16.json")
        XCTAssertEqual(half.vae.files.files.count, 3)
        XCTAssertEqual(half.vae.variant, .fp16)
        XCTAssertNil(half.imageEncoder.files.index)
        let plain = try ModelDirectory(url: copy.url)
        XCTAssertEqual(plain.imageEncoder.files.index?.lastPathComponent, "model.safetensors.index.json")
        XCTAssertEqual(plain.imageEncoder.variant, .fp32)
        XCTAssertEqual(plain.vae.variant, .fp32)
    }

    func testBadShardIndexes() throws {
        let copy = try DemoModelCopy()
        let index = "vae/diffusion_pytorch_model.safetensors.index.json"
        let map = try shard(copy, folder: "vae", single: "diffusion_pytorch_model.safetensors",
                            shardPrefix: "diffusion_pytorch_model", index: "diffusion_pytorch_model.safetensors.index.json")
        func writeIndex(_ weightMap: [String: Any]) throws {
            try JSONSerialization.data(withJSONObject: ["weight_map": weightMap]).write(to: copy.path(index))
        }

        var missingShard = map
        missingShard["quant_conv.bias"] = "diffusion_pytorch_model-00003-of-00003.safetensors"
        try writeIndex(missingShard)
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            XCTAssertEqual(error as? ModelDirectoryError,
                           .missingShards(index: copy.path(index).path, shards: ["diffusion_pytorch_model-00003-of-00003.safetensors"]))
        }

        var escaping = map
        escaping["quant_conv.bias"] = "../unet/diffusion_pytorch_model.safetensors"
        try writeIndex(escaping)
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard case let .badIndex(file, reason) = error as? ModelDirectoryError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, copy.path(index).path)
            XCTAssertTrue(reason.contains("not a plain file name"), reason)
        }

        var wrongShard = map
        let moved = "quant_conv.bias"
        wrongShard[moved] = map[moved]!.contains("00001") ? "diffusion_pytorch_model-00002-of-00002.safetensors"
                                                          : "diffusion_pytorch_model-00001-of-00002.safetensors"
        try writeIndex(wrongShard)
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard case let .badIndex(_, reason) = error as? ModelDirectoryError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("'quant_conv.bias'"), reason)
        }

        try writeIndex(["quant_conv.bias": 7])
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard case .badIndex = error as? ModelDirectoryError else { return XCTFail("\(error)") }
        }
        try Data("not json".utf8).write(to: copy.path(index))
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard case .badIndex = error as? ModelDirectoryError else { return XCTFail("\(error)") }
        }
    }

    func testDuplicateTensorAcrossShards() throws {
        let copy = try DemoModelCopy()
        let map = try shard(copy, folder: "vae", single: "diffusion_pytorch_model.safetensors",
                            shardPrefix: "diffusion_pytorch_model", index: "diffusion_pytorch_model.safetensors.index.json")
        let first = "vae/diffusion_pytorch_model-00001-of-00002.safetensors"
        let stolen = map.first { $0.value.hasPrefix("diffusion_pytorch_model-00002") }!.key
        try copy.rewrite(first) { w, _ in
            try w.copy(stolen, from: copy.file("vae/diffusion_pytorch_model-00002-of-00002.safetensors"))
        }
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard case let .duplicateTensor(tensor, files) = error as? ModelDirectoryError else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, stolen)
            XCTAssertEqual(files.count, 2)
        }
    }

    // MARK: Directory and config problems

    func testNotAModelDirectory() throws {
        let scratch = try ScratchDirectory()
        XCTAssertThrowsError(try ModelDirectory(url: scratch.url)) { error in
            XCTAssertEqual(error as? ModelDirectoryError, .notADirectory(path: scratch.url.standardizedFileURL.path))
        }
        // A Hugging Face snapshot holding only Stability's single file: the message names it.
        try Data("x".utf8).write(to: scratch.url.appendingPathComponent("svd_xt.safetensors"))
        XCTAssertThrowsError(try ModelDirectory(url: scratch.url)) { error in
            XCTAssertEqual(error as? ModelDirectoryError,
                           .notADirectory(path: scratch.url.standardizedFileURL.path, checkpoints: ["svd_xt.safetensors"]))
            XCTAssertTrue("\(error)".contains("pass one of those as the model"), "\(error)")
        }
        XCTAssertThrowsError(try ModelDirectory(url: scratch.path("missing")))
        XCTAssertThrowsError(try ModelDirectory(url: Fixtures.demoModel.appendingPathComponent("model_index.json")))
    }

    func testMissingConfigNamesTheFile() throws {
        let copy = try DemoModelCopy()
        try copy.remove("vae/config.json")
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            XCTAssertEqual(error as? ModelConfigError,
                           .unreadable(file: copy.path("vae/config.json").standardizedFileURL.path, reason: "no such file"))
        }
    }

    func testConfigThatIsNotARegularFileIsRefusedWithoutBlocking() throws {
        let copy = try DemoModelCopy()
        try copy.remove("unet/config.json")
        XCTAssertEqual(mkfifo(copy.path("unet/config.json").path, 0o600), 0)
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard case let .unreadable(file, reason) = error as? ModelConfigError else { return XCTFail("\(error)") }
            XCTAssertTrue(file.hasSuffix("unet/config.json"), file)
            XCTAssertEqual(reason, "not a regular file (a FIFO)")
        }
    }

    func testUnsupportedSchedulerIsRefusedWhenTheModelLoads() throws {
        let copy = try DemoModelCopy()
        try copy.editJSON("scheduler/scheduler_config.json") { $0["prediction_type"] = "epsilon" }
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard case let .unsupported(file, key, _) = error as? ModelConfigError else { return XCTFail("\(error)") }
            XCTAssertTrue(file.hasSuffix("scheduler/scheduler_config.json"), file)
            XCTAssertEqual(key, "prediction_type")
        }
    }

    func testInconsistentConfigs() throws {
        let copy = try DemoModelCopy()
        try copy.editJSON("image_encoder/config.json") { $0["projection_dim"] = 64 }
        XCTAssertThrowsError(try ModelDirectory(url: copy.url)) { error in
            guard case let .inconsistentConfigs(_, reasons) = error as? ModelDirectoryError else { return XCTFail("\(error)") }
            XCTAssertEqual(reasons.count, 1)
            XCTAssertTrue(reasons[0].contains("cross_attention_dim 32") && reasons[0].contains("projection_dim 64"), reasons[0])
        }
    }

    // MARK: Fingerprint

    func testFingerprintIsStableAndTheCacheSparesRehashing() throws {
        let cacheDir = try ScratchDirectory("digest-cache")
        let model = try ModelDirectory(url: Fixtures.demoModel)

        let first = FileDigestCache(directory: cacheDir.url)
        let fp1 = try ModelFingerprint(directory: model, cache: first)
        XCTAssertEqual(first.hashedPaths.count, 9, "every config and weight file hashed once")
        XCTAssertEqual(Set(fp1.files.keys), Set(model.loadedFiles))
        XCTAssertEqual(fp1.sha256.count, 64)
        XCTAssertTrue(FileManager.default.fileExists(atPath: first.file.path))

        // A new cache object (as in the next process) reads the digests back instead of hashing.
        let second = FileDigestCache(directory: cacheDir.url)
        let fp2 = try ModelFingerprint(directory: model, cache: second)
        XCTAssertEqual(second.hashedPaths, [])
        XCTAssertEqual(fp2, fp1)

        // Without a cache the result is the same.
        XCTAssertEqual(try ModelFingerprint(directory: model, cache: nil), fp1)

        // Content, not location: a copy elsewhere has the same fingerprint (and is hashed, being a new path).
        let copy = try DemoModelCopy()
        let third = FileDigestCache(directory: cacheDir.url)
        XCTAssertEqual(try ModelFingerprint(directory: ModelDirectory(url: copy.url), cache: third), fp1)
        XCTAssertEqual(third.hashedPaths.count, 9)

        // Changing one file rehashes that file only and changes the fingerprint.
        try copy.editJSON("unet/config.json") { $0["num_frames"] = 14 }
        let fourth = FileDigestCache(directory: cacheDir.url)
        let changed = try ModelFingerprint(directory: ModelDirectory(url: copy.url), cache: fourth)
        XCTAssertEqual(fourth.hashedPaths.map { URL(fileURLWithPath: $0).lastPathComponent }, ["config.json"])
        XCTAssertTrue(fourth.hashedPaths[0].hasSuffix("/unet/config.json"))
        XCTAssertNotEqual(changed.sha256, fp1.sha256)
        XCTAssertNotEqual(changed.files["unet/config.json"], fp1.files["unet/config.json"])
        XCTAssertEqual(changed.files["vae/config.json"], fp1.files["vae/config.json"])
    }

    func testSameSizeRewriteWithNewModificationTimeIsRehashed() throws {
        let cacheDir = try ScratchDirectory("digest-cache")
        let scratch = try ScratchDirectory()
        let file = scratch.path("data.bin")
        try Data("abc".utf8).write(to: file)
        let cache = FileDigestCache(directory: cacheDir.url)
        XCTAssertEqual(try cache.digest(of: file), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        try Data("abd".utf8).write(to: file)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: file.path)
        XCTAssertEqual(try cache.digest(of: file), "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9")
        XCTAssertEqual(cache.hashedPaths.count, 2)
    }

    func testStreamingHashMatchesAcrossChunkBoundaries() throws {
        let scratch = try ScratchDirectory()
        let file = scratch.path("big.bin")
        // 8 MiB + 3 bytes: one full read buffer and a remainder.
        let bytes = (0..<(8 << 20) + 3).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: file)
        let streamed = try FileDigestCache.sha256(of: file)
        // Python: hashlib.sha256(bytes((i * 31) & 255 for i in range((8 << 20) + 3))).hexdigest()
        XCTAssertEqual(streamed, "35f4750256c7cfb1213daddd67a882543f970a988b856c538314c96c67ac9f0e")
    }

    func testCombinedDigestIsOverSortedPathDigestLines() {
        // Python: hashlib.sha256(b"a.json\t01\nb/c\t02\n").hexdigest()
        XCTAssertEqual(ModelFingerprint(files: ["b/c": "02", "a.json": "01"]).sha256,
                       "5f6b2db9b4ebb13b63c4eb9729542cb17b05ef12698b6b209eef66e90cda682c")
    }

    func testCacheFolderFollowsXDG() {
        XCTAssertEqual(FileDigestCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"]).path,
                       "/x/cache/svdbatch")
        XCTAssertEqual(FileDigestCache.defaultDirectory(environment: ["HOME": "/home/u"]).path, "/home/u/.cache/svdbatch")
        XCTAssertEqual(FileDigestCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/home/u"]).path,
                       "/home/u/.cache/svdbatch")
    }

    func testCorruptCacheFileIsIgnored() throws {
        let cacheDir = try ScratchDirectory("digest-cache")
        try Data("{corrupt".utf8).write(to: cacheDir.path(FileDigestCache.fileName))
        let cache = FileDigestCache(directory: cacheDir.url)
        let fp = try ModelFingerprint(root: Fixtures.demoModel, relativePaths: ["model_index.json"], cache: cache)
        XCTAssertEqual(cache.hashedPaths.count, 1)
        XCTAssertEqual(fp.files.count, 1)
        let reread = FileDigestCache(directory: cacheDir.url)
        _ = try reread.digest(of: Fixtures.demoModel.appendingPathComponent("model_index.json"))
        XCTAssertEqual(reread.hashedPaths, [], "the rewritten cache file is valid")
    }
}

// MARK: - Config decoding

extension ModelDirectoryTests {
    private func expectConfigError<T>(_ make: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
                                      _ check: (ModelConfigError) -> Void) {
        XCTAssertThrowsError(try make(), file: file, line: line) { error in
            guard let e = error as? ModelConfigError else { return XCTFail("\(error)", file: file, line: line) }
            check(e)
        }
    }

    private func data(_ s: String) -> Data { Data(s.utf8) }

    func testAbsentKeysTakeTheClassDefaultsAndUnknownKeysAreIgnored() throws {
        XCTAssertEqual(try UNetConfig.decode(data(#"{"unknown_key": [1, 2], "_use_default_values": ["x"]}"#)), try UNetConfig())
        XCTAssertEqual(try UNetConfig().numAttentionHeads, [5, 10, 20, 20])
        XCTAssertNil(try UNetConfig().sampleSize)
        let vae = try VAEConfig.decode(data(#"{"act_fn": "silu"}"#))
        XCTAssertEqual(vae, try VAEConfig())
        XCTAssertEqual(vae.blockOutChannels, [64])
        XCTAssertEqual(vae.layersPerBlock, 1)
        XCTAssertEqual(vae.scalingFactor, 0.18215)
        XCTAssertTrue(vae.forceUpcast)
        let clip = try CLIPVisionConfig.decode(data("{}"))
        XCTAssertEqual(clip.hiddenAct, .quickGELU)
        XCTAssertEqual(clip.patchSize, 32)
        XCTAssertEqual(clip.hiddenSize, 768)
        XCTAssertEqual(clip.numPositions, 50)
        let features = try FeatureExtractorConfig.decode(data(#"{"crop_size": 224}"#))
        XCTAssertEqual(features.imageMean, FeatureExtractorConfig.openAICLIPMean)
        XCTAssertEqual(features.imageStd, FeatureExtractorConfig.openAICLIPStd)
        // null means absent, as in Python.
        XCTAssertEqual(try UNetConfig.decode(data(#"{"in_channels": null}"#)).inChannels, 8)
    }

    func testIntegerOrListKeys() throws {
        let u = try UNetConfig.decode(data(#"{"num_attention_heads": 8, "transformer_layers_per_block": [1, 2, 1, 1], "layers_per_block": [2, 2, 2, 2], "cross_attention_dim": [1024, 1024, 1024, 1024]}"#))
        XCTAssertEqual(u.numAttentionHeads, [8, 8, 8, 8])
        XCTAssertEqual(u.transformerLayersPerBlock, [1, 2, 1, 1])
        XCTAssertEqual(u.layersPerBlock, [2, 2, 2, 2])
        XCTAssertEqual(u.crossAttentionDim, 1024)
        expectConfigError(try UNetConfig.decode(data(#"{"num_attention_heads": [5, 10]}"#), file: "u.json")) {
            XCTAssertEqual($0, .invalidValue(file: "u.json", key: "num_attention_heads",
                                             reason: "has 2 entries but there are 4 blocks (one per down block)"))
        }
        expectConfigError(try UNetConfig.decode(data(#"{"transformer_layers_per_block": [[1], [1], [1], [1]]}"#))) {
            guard case .unsupported(_, "transformer_layers_per_block", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try UNetConfig.decode(data(#"{"cross_attention_dim": [768, 1024, 1024, 1024]}"#))) {
            guard case .unsupported(_, "cross_attention_dim", _) = $0 else { return XCTFail("\($0)") }
        }
    }

    func testConfigErrorsNameTheFileAndTheKey() {
        expectConfigError(try UNetConfig.decode(data(#"{"in_channels": "8"}"#), file: "m/unet/config.json")) {
            XCTAssertEqual($0, .wrongType(file: "m/unet/config.json", key: "in_channels", expected: "an integer",
                                          found: "the string \"8\""))
            XCTAssertEqual("\($0)", "m/unet/config.json: key 'in_channels' must be an integer, found the string \"8\"")
        }
        expectConfigError(try UNetConfig.decode(data(#"{"layers_per_block": 2.5}"#), file: "f")) {
            XCTAssertEqual($0, .wrongType(file: "f", key: "layers_per_block", expected: "a list of integers", found: "the number 2.5"))
        }
        expectConfigError(try UNetConfig.decode(data(#"{"block_out_channels": [320, 640, 1280, 1280], "num_attention_heads": [3, 10, 20, 20]}"#), file: "f")) {
            XCTAssertEqual($0, .invalidValue(file: "f", key: "num_attention_heads", reason: "3 heads do not divide 320 channels"))
        }
        expectConfigError(try UNetConfig.decode(data(#"{"block_out_channels": [100, 640, 1280, 1280]}"#), file: "f")) {
            guard case .invalidValue("f", "block_out_channels", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try UNetConfig.decode(data(#"{"down_block_types": ["CrossAttnDownBlock2D", "DownBlockSpatioTemporal", "DownBlockSpatioTemporal", "DownBlockSpatioTemporal"]}"#), file: "f")) {
            guard case .unsupported("f", "down_block_types", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try UNetConfig.decode(data(#"{"_class_name": "UNet2DConditionModel"}"#), file: "f")) {
            guard case .unsupported("f", "_class_name", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try UNetConfig.decode(data(#"{"projection_class_embeddings_input_dim": 512}"#), file: "f")) {
            guard case .invalidValue("f", "projection_class_embeddings_input_dim", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try VAEConfig.decode(data(#"{"down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"]}"#), file: "f")) {
            guard case .invalidValue("f", "down_block_types", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try VAEConfig.decode(data(#"{"force_upcast": 1}"#), file: "f")) {
            XCTAssertEqual($0, .wrongType(file: "f", key: "force_upcast", expected: "true or false", found: "the integer 1"))
        }
        expectConfigError(try CLIPVisionConfig.decode(data(#"{"hidden_act": "relu"}"#), file: "f")) {
            guard case .unsupported("f", "hidden_act", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try CLIPVisionConfig.decode(data(#"{"hidden_size": 1280, "num_attention_heads": 12}"#), file: "f")) {
            guard case .invalidValue("f", "num_attention_heads", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try FeatureExtractorConfig.decode(data(#"{"image_std": [0.2, 0, 0.2]}"#), file: "f")) {
            guard case .invalidValue("f", "image_std", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try VAEConfig.decode(data("[1, 2]"), file: "f")) {
            XCTAssertEqual($0, .notAJSONObject(file: "f", reason: "the top level is a list"))
        }
        expectConfigError(try VAEConfig.decode(data("{oops"), file: "f")) {
            XCTAssertEqual($0, .notAJSONObject(file: "f", reason: "invalid JSON"))
        }
    }

    /// Decoding and validation are separate steps: a config decodes to typed values first, and `validate()`
    /// then names the key the engine cannot run; hand-built configs meet the same rules.
    func testValidationIsAStepAfterDecoding() throws {
        let raw = try JSONDecoder().decode(UNetConfig.self, from: data(#"{"num_attention_heads": [3, 10, 20, 20]}"#))
        XCTAssertEqual(raw.numAttentionHeads, [3, 10, 20, 20])
        XCTAssertThrowsError(try raw.validate()) { error in
            XCTAssertEqual(error as? ConfigKeyError, ConfigKeyError(key: "num_attention_heads", kind: .invalid("3 heads do not divide 320 channels")))
        }
        expectConfigError(try UNetConfig(numAttentionHeads: [3, 10, 20, 20])) {
            XCTAssertEqual($0, .invalidValue(file: "UNetConfig", key: "num_attention_heads", reason: "3 heads do not divide 320 channels"))
        }
        let scheduler = try JSONDecoder().decode(SchedulerConfig.self, from: data(#"{"sigma_min": 0.002, "sigma_max": 700}"#))
        XCTAssertEqual(scheduler.predictionType, "epsilon", "diffusers' default fills the absent key")
        XCTAssertThrowsError(try scheduler.validate()) { XCTAssertEqual(($0 as? ConfigKeyError)?.key, "prediction_type") }
    }

    /// Every config encodes to diffusers' JSON keys and decodes back to itself, for the demo model and for
    /// the full-size SVD-XT configs.
    func testConfigsEncodeToJSONThatDecodesBackUnchanged() throws {
        func roundTrip<C: ModelConfigFile>(_ config: C, file: StaticString = #filePath, line: UInt = #line) throws {
            let json = try JSONEncoder().encode(config)
            XCTAssertEqual(try C.decode(json), config, String(decoding: json, as: UTF8.self), file: file, line: line)
        }
        let demo = try ModelDirectory(url: Fixtures.demoModel)
        try roundTrip(demo.index)
        try roundTrip(demo.unetConfig)
        try roundTrip(demo.vaeConfig)
        try roundTrip(demo.imageEncoderConfig)
        try roundTrip(demo.schedulerConfig)
        try roundTrip(demo.featureExtractorConfig)
        try roundTrip(UNetConfig(sampleSize: 96))
        try roundTrip(CLIPVisionConfig(hiddenSize: 1280, intermediateSize: 5120, numHiddenLayers: 32, numAttentionHeads: 16,
                                       patchSize: 14, projectionDim: 1024, hiddenAct: .gelu))
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(demo.unetConfig)) as! [String: Any]
        XCTAssertEqual(encoded["block_out_channels"] as? [Int], demo.unetConfig.blockOutChannels)
    }

    func testSchedulerSettingsTheEngineCannotHonourAreRefused() throws {
        let svd = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.demoModel.appendingPathComponent("scheduler/scheduler_config.json"))) as! [String: Any]
        func decode(_ edit: (inout [String: Any]) -> Void) throws -> SchedulerConfig {
            var object = svd
            edit(&object)
            return try SchedulerConfig.decode(JSONSerialization.data(withJSONObject: object), file: "s.json")
        }
        XCTAssertEqual(try decode { _ in }, .svd)
        let refusals: [(String, (inout [String: Any]) -> Void)] = [
            ("prediction_type", { $0["prediction_type"] = "epsilon" }),
            ("prediction_type", { $0.removeValue(forKey: "prediction_type") }),
            ("timestep_type", { $0["timestep_type"] = "discrete" }),
            ("timestep_type", { $0.removeValue(forKey: "timestep_type") }),
            ("use_karras_sigmas", { $0["use_karras_sigmas"] = false }),
            ("use_karras_sigmas", { $0.removeValue(forKey: "use_karras_sigmas") }),
            ("use_exponential_sigmas", { $0["use_exponential_sigmas"] = true }),
            ("final_sigmas_type", { $0["final_sigmas_type"] = "sigma_min" }),
            ("sigma_min", { $0.removeValue(forKey: "sigma_min") }),
            ("sigma_max", { $0["sigma_max"] = NSNull() }),
            ("_class_name", { $0["_class_name"] = "DDIMScheduler" }),
        ]
        for (key, edit) in refusals {
            expectConfigError(try decode(edit)) {
                guard case let .unsupported(file, k, reason) = $0 else { return XCTFail("\(key): \($0)") }
                XCTAssertEqual(file, "s.json")
                XCTAssertEqual(k, key)
                XCTAssertFalse(reason.isEmpty)
            }
        }
        expectConfigError(try decode { $0["timestep_spacing"] = "sometimes" }) {
            guard case .invalidValue("s.json", "timestep_spacing", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try decode { $0["sigma_max"] = 0.001 }) {
            guard case .invalidValue("s.json", "sigma_max", _) = $0 else { return XCTFail("\($0)") }
        }
        let trailing = try decode { $0["timestep_spacing"] = "trailing" }
        XCTAssertEqual(trailing.timestepSpacing, .trailing)
        XCTAssertFalse(trailing.timestepSpacing.initNoiseIncludesUnitVariance)
        XCTAssertEqual(try decode { $0["sigma_max"] = 700 }.sigmaMax, 700, "an integer is a valid number")
    }

    func testModelIndexMustNameAnSVDPipeline() throws {
        let demo = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.demoModel.appendingPathComponent("model_index.json"))) as! [String: Any]
        func decode(_ edit: (inout [String: Any]) -> Void) throws -> ModelIndex {
            var object = demo
            edit(&object)
            return try ModelIndex.decode(JSONSerialization.data(withJSONObject: object), file: "model_index.json")
        }
        XCTAssertEqual(try decode { $0["unknown"] = 1 }.components.count, 5)
        expectConfigError(try decode { $0["_class_name"] = "StableDiffusionPipeline" }) {
            guard case .unsupported("model_index.json", "_class_name", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try decode { $0.removeValue(forKey: "_class_name") }) {
            guard case .invalidValue("model_index.json", "_class_name", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try decode { $0.removeValue(forKey: "vae") }) {
            guard case .invalidValue("model_index.json", "vae", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try decode { $0["unet"] = ["diffusers", "UNet2DConditionModel"] }) {
            guard case .unsupported("model_index.json", "unet", _) = $0 else { return XCTFail("\($0)") }
        }
        expectConfigError(try decode { $0["scheduler"] = [NSNull(), NSNull()] }) {
            guard case .wrongType("model_index.json", "scheduler", _, _) = $0 else { return XCTFail("\($0)") }
        }
    }

    func testNestedCLIPConfig() throws {
        let nested = #"{"model_type": "clip", "projection_dim": 1024, "vision_config": {"hidden_size": 1280, "num_hidden_layers": 32, "num_attention_heads": 16, "intermediate_size": 5120, "patch_size": 14, "hidden_act": "gelu"}}"#
        let c = try CLIPVisionConfig.decode(Data(nested.utf8))
        XCTAssertEqual(c.projectionDim, 1024)
        XCTAssertEqual(c.hiddenSize, 1280)
        XCTAssertEqual(c.hiddenAct, .gelu)
        XCTAssertEqual(c.numPositions, 257)
    }

    /// The pipeline's fixed shapes (4 latent channels, an 8× VAE, 224-pixel CLIP input) are checked when a model
    /// folder loads, so a config that disagrees is an error naming the key instead of a crash mid-render.
    func testConfigsThePipelineCannotRunAreRefusedAtLoad() throws {
        let cases: [(String, String, (inout [String: Any]) -> Void, String)] = [
            ("image_encoder/config.json", "image_size", { $0["image_size"] = 336 }, "image_size"),
            ("vae/config.json", "block_out_channels", {
                $0["block_out_channels"] = [32, 32, 64]
                $0["down_block_types"] = Array(repeating: "DownEncoderBlock2D", count: 3)
            }, "3 blocks"),
        ]
        for (file, key, edit, expected) in cases {
            let model = try DemoModelCopy()
            try model.editJSON(file, edit)
            XCTAssertThrowsError(try ModelDirectory(url: model.url)) { error in
                guard case let .inconsistentConfigs(_, reasons)? = error as? ModelDirectoryError else {
                    return XCTFail("\(key): unexpected error \(error)")
                }
                XCTAssertTrue(reasons.contains { $0.contains(expected) }, "\(key): \(reasons)")
            }
        }
    }
}
