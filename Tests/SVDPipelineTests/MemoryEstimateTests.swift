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

    func testJobsThatCannotFitAreRefusedWithAdvice() throws {
        var a = UNetArchitecture()
        a.blockOutChannels = [320, 640, 1280, 1280]
        let p = VideoParameters(seed: Seed(UInt64(1)), numFrames: 25, width: 1024, height: 576)
        let estimate = MemoryEstimate(architecture: a, vaeChannels: [128, 256, 512, 512], parameters: p, workers: 2)
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
        let smaller = MemoryEstimate(architecture: a, vaeChannels: [128, 256, 512, 512], parameters: small, workers: 2)
        XCTAssertLessThan(smaller.decodeBytes, estimate.decodeBytes)
        XCTAssertEqual(smaller.unetBytes, estimate.unetBytes)
        print("full-size SVD-XT estimate: UNet \(estimate.unetBytes.gibibytes), decode(25) \(estimate.decodeBytes.gibibytes), decode(4) \(smaller.decodeBytes.gibibytes), scratch \(estimate.scratchBytes.gibibytes)")
    }
}
