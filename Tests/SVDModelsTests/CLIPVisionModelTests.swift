import Foundation
import SVDCore
@testable import SVDModels
import TestSupport
import XCTest

final class CLIPVisionModelTests: XCTestCase {
    static func loadModel() throws -> CLIPVisionModelWithProjection {
        let dir = Fixtures.demoModel.appendingPathComponent("image_encoder")
        let config = try CLIPVisionConfig.load(from: dir.appendingPathComponent("config.json"))
        let weights = try SafeTensorsFile(path: dir.appendingPathComponent("model.safetensors").path)
        return try CLIPVisionModelWithProjection(Weights(weights), config: config)
    }

    /// CLIP(clip_pixel_values) vs the conditional (last) row of `image_embeddings`, ≤ 1e-5 abs.
    func testImageEmbeddingsMatchReference() throws {
        let model = try Self.loadModel()
        for name in ["basic", "resize-chunked"] {
            let ref = try SafeTensorsFile(path: Fixtures.casePath(name, "intermediates.safetensors"))
            let pixels = try ref.tensor("clip_pixel_values")
            let expected = try ref.tensor("image_embeddings")  // [2, 1, proj]: uncond zeros, then cond
            let embeds = model(pixels)
            XCTAssertEqual(embeds.shape, [1, model.projectionDim])
            let cond = expected.slice(first: 1, 1)
            let err = maxAbsDifference(embeds, cond)
            print("CLIP \(name): max abs error \(err)")
            XCTAssertLessThanOrEqual(err, 1e-5, name)
        }
    }

    /// Images of a batch are independent: a batch of two equal images gives the single-image row twice, up to
    /// rounding (BLAS row blocks straddle images, so results are not bit-identical across batch sizes).
    func testBatchRowsAreIndependent() throws {
        let model = try Self.loadModel()
        let pixels = try SafeTensorsFile(path: Fixtures.casePath("basic", "intermediates.safetensors")).tensor("clip_pixel_values")
        let single = model(pixels)
        let pair = model(Tensor.concat(first: [pixels, pixels]))
        XCTAssertEqual(pair.shape, [2, model.projectionDim])
        XCTAssertLessThanOrEqual(maxAbsDifference(pair.slice(first: 0, 1), single), 1e-6)
        XCTAssertLessThanOrEqual(maxAbsDifference(pair.slice(first: 1, 1), single), 1e-6)
    }

    func testMismatchedConfigThrows() throws {
        let path = Fixtures.demoModel.appendingPathComponent("image_encoder/model.safetensors").path
        let weights = Weights(try SafeTensorsFile(path: path))
        let config = try CLIPVisionConfig(hiddenSize: 32, intermediateSize: 37, numHiddenLayers: 2, numAttentionHeads: 2,
                                          patchSize: 16, imageSize: 224)
        XCTAssertThrowsError(try CLIPVisionModelWithProjection(weights, config: config)) { error in
            XCTAssertEqual((error as? WeightShapeError)?.key, "vision_model.embeddings.patch_embedding.weight")
        }
    }
}
