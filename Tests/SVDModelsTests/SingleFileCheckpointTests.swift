import Foundation
import XCTest
import SVDCore
import TestSupport
@testable import SVDModels

/// Stability's single-file layout. The fixtures come from `Tests/Fixtures/single-file/make_single_file.py`,
/// which writes them from diffusers' names and proves them with diffusers' own conversion code (and open_clip's
/// module names), so these tests do not check the engine's mapping against itself.
final class SingleFileCheckpointTests: XCTestCase {
    static let demoFile = Fixtures.directory.appendingPathComponent("single-file/demo-svd-xt.fp16.safetensors")

    /// Every tensor of every network, as the layers read it, equals the demo folder's bit for bit, and the
    /// recognised architecture carries the demo folder's configs.
    func testTheDemoSingleFileHoldsExactlyTheDemoFoldersWeightsAndConfigs() throws {
        let file = try ModelDirectory(url: Self.demoFile)
        let folder = try ModelDirectory(url: Fixtures.demoModel)
        XCTAssertEqual(file.layout, .singleFile(architecture: "svdbatch demo", variant: "svdbatch demo"))
        XCTAssertEqual(file.unetConfig, folder.unetConfig)
        XCTAssertEqual(file.vaeConfig, folder.vaeConfig)
        XCTAssertEqual(file.imageEncoderConfig, folder.imageEncoderConfig)
        XCTAssertEqual(file.schedulerConfig, folder.schedulerConfig)
        XCTAssertEqual(file.featureExtractorConfig, folder.featureExtractorConfig)
        for (a, b) in zip(file.weightSets, folder.weightSets) {
            XCTAssertEqual(a.keys, b.keys)
            for key in a.keys {
                XCTAssertEqual(try a.tensor(key).array.map(\.bitPattern), try b.tensor(key).array.map(\.bitPattern), key)
                XCTAssertEqual(try a.weight(key).shape, try b.weight(key).shape, key)
            }
        }
        // 16-bit weights stay 16-bit, except the transposed projection.
        XCTAssertTrue(try file.unet.weight("down_blocks.0.attentions.0.proj_in.weight").isCompact)
        XCTAssertTrue(try file.imageEncoder.weight("vision_model.encoder.layers.0.self_attn.k_proj.weight").isCompact)
        XCTAssertEqual(file.loadedFiles, ["demo-svd-xt.fp16.safetensors"])
        XCTAssertEqual(file.fingerprintRoot, Self.demoFile.deletingLastPathComponent())
        XCTAssertEqual(file.loadedVariants[.unet], .fp16)
        XCTAssertTrue(file.warnings.isEmpty, "\(file.warnings)")
    }

    /// An F32 file (as svd.safetensors and svd_xt.safetensors are) holds the same values widened.
    func testAnF32CopyLoadsTheSameValues() throws {
        let source = try SafeTensorsFile(path: Self.demoFile.path)
        var writer = SafeTensorsWriter()
        for name in source.names { writer.addF32(name, shape: try source.info(name).shape, values: try source.tensor(name).array) }
        let dir = try ScratchDirectory()
        let url = dir.path("demo-svd-xt.safetensors")
        try writer.write(to: url)
        let f32 = try ModelDirectory(url: url), f16 = try ModelDirectory(url: Self.demoFile)
        XCTAssertEqual(f32.loadedVariants[.unet], .fp32)
        for key in ["conv_in.weight", "up_blocks.3.attentions.2.temporal_transformer_blocks.0.attn1.to_q.weight"] {
            XCTAssertEqual(try f32.unet.tensor(key).array, try f16.unet.tensor(key).array)
        }
        XCTAssertEqual(try f32.imageEncoder.tensor("visual_projection.weight").array,
                       try f16.imageEncoder.tensor("visual_projection.weight").array)
    }

    /// The full-size SVD-XT file's tensor names and shapes (from the fixture script run on a full-size model):
    /// each network's published config binds every tensor, and nothing is left over.
    func testEveryTensorOfAFullSizeSVDFileIsPlaced() throws {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("single-file/svd_xt-tensor-shapes.json"))
        let shapes = try JSONDecoder().decode([String: [Int]].self, from: data)
        XCTAssertEqual(shapes.count, 2446)
        let a = CheckpointArchitecture.stableVideoDiffusion
        var used = Set<String>()
        for manifest in a.manifests {
            let resolution = try manifest.resolve(shapes: shapes, rules: a.rules(manifest), source: "svd_xt.safetensors")
            XCTAssertEqual(resolution.warnings, [], "\(manifest.component)")
            used.formUnion(resolution.bindings.values.map(\.storedName))
        }
        XCTAssertEqual(used.count, 1428 + 374 + 520 - 4 * 32)   // q, k and v of 32 layers share in_proj_weight and in_proj_bias
        let unused = shapes.keys.filter { !used.contains($0) }
        XCTAssertTrue(unused.allSatisfy(StabilityCheckpointNames.isKnownUnused), "\(unused.filter { !StabilityCheckpointNames.isKnownUnused($0) })")
        XCTAssertEqual(SingleFileCheckpoint.unclaimed(shapes.keys), [])
        // The demo architecture does not fit a full-size file.
        XCTAssertThrowsError(try WeightManifest.unet(CheckpointArchitecture.demo.unet)
            .resolve(shapes: shapes, rules: CheckpointArchitecture.demo.rules(.unet(CheckpointArchitecture.demo.unet))))
    }

    func testTheVariantComesFromStabilitysFileNames() {
        let cases: [(String, String?, Int?)] = [
            ("svd.safetensors", "SVD", 14), ("svd_xt.safetensors", "SVD-XT", 25), ("svd_xt_1_1.safetensors", "SVD-XT 1.1", 25),
            ("SVD-XT-1-1.safetensors", "SVD-XT 1.1", 25), ("svd_xt.fp16.safetensors", "SVD-XT", 25),
            ("svd_image_decoder.safetensors", "SVD", 14), ("stable-video.safetensors", nil, nil), ("next.safetensors", nil, nil),
        ]
        for (name, label, frames) in cases {
            let variant = CheckpointVariant.fromFileName(name)
            XCTAssertEqual(variant?.label, label, name)
            XCTAssertEqual(variant?.frames, frames, name)
        }
        XCTAssertTrue(SingleFileCheckpointError.unknownVariant(file: "/m/model.safetensors").description
            .contains("svd_xt.safetensors"))
    }

    /// One network's diffusers file, an image model, a truncated file: each refused with what was found.
    func testFilesThatAreNotSVDCheckpointsAreRefusedSayingWhatTheyHold() throws {
        let diffusersUNet = Fixtures.demoModel.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")
        XCTAssertThrowsError(try ModelDirectory(url: diffusersUNet)) { error in
            guard case let .notStabilityLayout(_, groups, diffusers)? = error as? SingleFileCheckpointError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(diffusers)
            XCTAssertTrue(groups.contains("down_blocks.0 (158 tensors)"), "\(groups)")
            XCTAssertTrue("\(error)".contains("model_index.json"))
        }

        let dir = try ScratchDirectory()
        let source = try SafeTensorsFile(path: Self.demoFile.path)
        var image = SafeTensorsWriter()
        try image.copyAll(from: source) { $0.contains(".time_stack.") ? nil : $0 }
        let imageURL = dir.path("svd.safetensors")
        try image.write(to: imageURL)
        XCTAssertThrowsError(try ModelDirectory(url: imageURL)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("no temporal layers"), text)
            XCTAssertTrue(text.contains("missing tensor 'model.diffusion_model.input_blocks.1.1.time_stack.0."), text)
        }

        let truncated = dir.path("svd_xt.safetensors")
        try Data(try Data(contentsOf: Self.demoFile).prefix(4096)).write(to: truncated)
        XCTAssertThrowsError(try ModelDirectory(url: truncated)) { error in
            XCTAssertTrue("\(error)".contains(truncated.path), "\(error)")
        }
    }
}
