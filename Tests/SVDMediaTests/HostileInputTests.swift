import Foundation
import XCTest
import TestSupport
@testable import SVDMedia
import SVDCore

final class HostileInputTests: XCTestCase {
    /// A box size near Int64.max must read as a damaged or truncated file, never trap on overflow.
    func testHugeMP4BoxSizeIsAnErrorNotACrash() throws {
        var bytes: [UInt8] = [0, 0, 0, 1] + Array("ftyp".utf8) + [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0]
        bytes += Array("isom".utf8) + [UInt8](repeating: 0, count: 64)
        let scratch = try ScratchDirectory("huge-box")
        defer { withExtendedLifetime(scratch) {} }
        let url = scratch.path("huge-box.mp4")
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try ClipReader.probe(url))
    }

    /// A JPEG is complete at its end-of-image marker; data appended after it (a "motion photo") is ignored.
    func testJPEGWithDataAppendedAfterTheImageLoads() throws {
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/other/quadrants.jpg")))
        let plain = try ImageInput.decode([UInt8](jpeg), path: "quadrants.jpg")
        let appended = [UInt8](jpeg) + [0xFF, 0xDA, 0x00, 0x08, 1, 2, 3, 4, 5, 6] + [UInt8](repeating: 7, count: 100)
        XCTAssertEqual(try ImageInput.decode(appended, path: "motion-photo.jpg"), plain)
    }
}
