import XCTest
import SVDCore
import TestSupport
@testable import SVDModels

final class UNetTests: XCTestCase {
    static func demoLayout() throws -> UNetLayout {
        UNetLayout(try UNetConfig.load(from: Fixtures.demoModel.appendingPathComponent("unet/config.json")))
    }

    /// `source` wraps the file, e.g. to expand its float16 weights at load.
    static func loadUNet(source: (SafeTensorsFile) -> any WeightSource = { $0 }) throws -> UNetSpatioTemporal {
        let file = try SafeTensorsFile(path: Fixtures.demoModel.appendingPathComponent("unet/diffusion_pytorch_model.safetensors").path)
        return try UNetSpatioTemporal(Weights(source(file)), layout: Self.demoLayout())
    }

    /// The step-0 UNet input exactly as the diffusers pipeline builds it: scaled noisy latents for
    /// both guidance rows, then the image latents repeated over frames, on the channel axis.
    static func stepZeroInput(_ ref: SafeTensorsFile) throws -> (Tensor, Float, Tensor, [[Float]]) {
        let latents = try ref.tensor("latents_init")          // [1, F, 4, h, w]
        let imageLatents = try ref.tensor("image_latents")    // [B, 4, h, w]
        let sigma = try ref.tensor("sigmas").scalar(0)
        let t = try ref.tensor("timesteps").scalar(0)
        let context = try ref.tensor("image_embeddings")      // [B, 1, D]
        let ids = try ref.tensor("added_time_ids")            // [B, 3]
        defer { withExtendedLifetime((latents, imageLatents, ids)) {} }
        let b = imageLatents.shape[0], f = latents.shape[1]
        let h = latents.shape[3], w = latents.shape[4]
        let plane = 4 * h * w
        let scale = (sigma * sigma + 1).squareRoot()
        let x = Tensor(uninitialized: [b, f, 8, h, w])
        for row in 0..<b {
            for frame in 0..<f {
                let dst = x.data + (row * f + frame) * 2 * plane
                for i in 0..<plane { dst[i] = latents.data[frame * plane + i] / scale }
                (dst + plane).update(from: imageLatents.data + row * plane, count: plane)
            }
        }
        let addedIds = (0..<b).map { r in (0..<3).map { ids.data[r * 3 + $0] } }
        return (x, t, context, addedIds)
    }

    func testStepZeroMatchesDiffusers() throws {
        let unet = try Self.loadUNet()
        for name in ["basic", "resize-chunked"] {
            let ref = try SafeTensorsFile(path: Fixtures.casePath(name, "intermediates.safetensors"))
            let (x, t, context, ids) = try Self.stepZeroInput(ref)
            let out = unet(sample: x, timestep: t, context: context, addedTimeIds: ids)
            let expected = try ref.tensor("unet_output_step0")
            XCTAssertEqual(out.shape, expected.shape)
            var maxAbs: Float = 0, sq = 0.0, refSq = 0.0
            for i in 0..<expected.count {
                let d = out.data[i] - expected.data[i]
                maxAbs = max(maxAbs, abs(d))
                sq += Double(d * d)
                refSq += Double(expected.data[i] * expected.data[i])
            }
            let relRMS = (sq / refSq).squareRoot()
            print("unet step0 \(name): max abs \(maxAbs), rel rms \(relRMS)")
            // Reference tolerance (float32 reorderings land at ~3e-6): ≤ 5e-5 abs, rel rms ≤ 2e-5.
            XCTAssertLessThanOrEqual(maxAbs, 5e-5, name)
            XCTAssertLessThanOrEqual(relRMS, 2e-5, name)
        }
    }
}
