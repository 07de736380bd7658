import XCTest
import SVDCore
@testable import SVDPipeline

/// Decoded frames in [-1, 1] to 8-bit pixels.
final class FrameQuantizationTests: XCTestCase {
    /// NaN from broken weights becomes 0 in the uint8 frames instead of trapping the conversion.
    func testQuantizeMapsNaNToZero() {
        let decoded = Tensor(shape: [1, 3, 1, 2], values: [.nan, 1, -1, 0, 0.5, 2])
        // Planes R [nan, 1], G [-1, 0], B [0.5, 2] → pixels (0, 0, 191) and (255, 128, 255); 127.5 rounds to even.
        XCTAssertEqual(VideoPipeline.quantize(decoded).rgb, [0, 0, 191, 255, 128, 255])
    }
}
