import XCTest
import SVDCore
import SVDMedia
import SVDModels
import TestSupport
@testable import SVDPipeline

final class MemoryEstimateTests: XCTestCase {
    /// The estimate must bound what a render really holds, without being so loose that it refuses jobs that fit.
    func testEstimateBoundsMeasuredPeak() throws {
        let pipeline = VideoPipeline(model: try DemoModel.load())
        let image = try ImageInput.load(path: Fixtures.casePath("basic", "input.png"))
        for (frames, chunk, guidance) in [(8, 8, 3.0), (8, 3, 1.0)] {
            let p = VideoParameters(seed: Seed(UInt64(1)), numFrames: frames, width: 192, height: 128, numInferenceSteps: 1,
                                    maxGuidanceScale: guidance, decodeChunkSize: chunk)
            let estimate = pipeline.memoryEstimate(for: p)
            TensorMemory.resetPeak()
            let before = TensorMemory.liveBytes
            _ = try pipeline.render(image: image, parameters: p)
            let measured = TensorMemory.peakBytes - before
            let bound = max(estimate.unetBytes, estimate.decodeBytes)
            print("memory estimate \(frames) frames, chunk \(chunk): estimated \(bound) B (+\(estimate.scratchBytes) scratch), measured \(measured) B")
            XCTAssertGreaterThanOrEqual(bound, measured)
            XCTAssertLessThanOrEqual(bound, measured * 2)
        }
    }

    /// The decoder part alone bounds the streamed decode's measured peak, within 2×, whatever the chunk.
    func testDecodeEstimateBoundsMeasuredDecodePeak() throws {
        let pipeline = VideoPipeline(model: try DemoModel.load())
        for (frames, chunk) in [(8, 8), (8, 3), (14, 14)] {
            let p = VideoParameters(seed: Seed(UInt64(1)), numFrames: frames, width: 256, height: 128, numInferenceSteps: 1,
                                    decodeChunkSize: chunk)
            let latents = Tensor(uninitialized: [1, frames, 4, 16, 32])
            for i in 0..<latents.count { latents.data[i] = sinf(Float(i) * 0.37) }
            TensorMemory.resetPeak()
            let before = TensorMemory.liveBytes
            _ = pipeline.decode(latents, parameters: p)
            let measured = TensorMemory.peakBytes - before
            let estimate = pipeline.memoryEstimate(for: p).decodeBytes
            print("decode memory \(frames) frames, chunk \(chunk): estimated \(estimate) B, measured \(measured) B")
            XCTAssertGreaterThanOrEqual(estimate, measured)
            XCTAssertLessThanOrEqual(estimate, measured * 2)
        }
    }

    func testJobsThatCannotFitAreRefusedWithAdvice() throws {
        let a = UNetLayout(try UNetConfig())   // diffusers' defaults: SVD-XT
        let svdVAE = VAELayout(blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, latentChannels: 4)
        let p = VideoParameters(seed: Seed(UInt64(1)), numFrames: 25, width: 1024, height: 576)
        let estimate = MemoryEstimate(unet: a, vae: svdVAE, parameters: p, workers: 2)
        XCTAssertThrowsError(try estimate.check(available: 1 << 30)) { error in
            guard case let PipelineError.insufficientMemory(required, available, advice)? = error as? PipelineError else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertEqual(available, 1 << 30)
            XCTAssertGreaterThan(required, available)
            XCTAssertTrue(advice.contains("decode_chunk_size") || advice.contains("width"))
            XCTAssertTrue("\(error)".contains("GiB"))
        }
        XCTAssertNoThrow(try estimate.check(available: estimate.activationBytes))
        // Smaller decode chunks lower the decode estimate (and only that).
        var small = p
        small.decodeChunkSize = 4
        let smaller = MemoryEstimate(unet: a, vae: svdVAE, parameters: small, workers: 2)
        XCTAssertLessThan(smaller.decodeBytes, estimate.decodeBytes)
        XCTAssertEqual(smaller.unetBytes, estimate.unetBytes)
        // The streamed decoder's full-resolution chunk of 8 fits beside the weights (~2 GiB) in 16 GiB.
        var eight = p
        eight.decodeChunkSize = 8
        let chunk8 = MemoryEstimate(unet: a, vae: svdVAE, parameters: eight, workers: 2)
        XCTAssertLessThan(chunk8.decodeBytes + chunk8.scratchBytes, 12 << 30)
        print("full-size SVD-XT estimate: UNet \(estimate.unetBytes.gibibytes), decode(25) \(estimate.decodeBytes.gibibytes), decode(8) \(chunk8.decodeBytes.gibibytes), decode(4) \(smaller.decodeBytes.gibibytes), scratch \(estimate.scratchBytes.gibibytes)")
    }
}
