import Foundation
import SVDCore
import TestSupport
import XCTest
@testable import SVDMedia

/// Photos come out the right way up, pixel for pixel as Pillow's `ImageOps.exif_transpose` (diffusers'
/// `load_image`) turns them; fixtures made by Tests/Fixtures/images/exif/make_fixtures.py.
final class ExifOrientationTests: XCTestCase {
    private func fixture(_ name: String) -> String { Fixtures.path("images/exif/\(name)") }

    func testEachOfTheEightOrientationsMatchesPillow() throws {
        for n in 1...8 {
            let stored = try ImageInput.load(path: fixture("orientation-\(n).png"))
            let expected = try ImageInput.load(path: fixture("expected-\(n).png"))
            XCTAssertEqual(ExifOrientation.read(try Array(Data(contentsOf: URL(fileURLWithPath: fixture("orientation-\(n).png"))))).rawValue, n)
            XCTAssertEqual(stored, expected, "orientation \(n)")
            XCTAssertEqual(stored.width, n >= 5 ? 8 : 12, "orientation \(n)")
        }
    }

    /// The same compressed picture with and without EXIF: only the orientation differs in what comes out.
    func testJPEGAndWebPCarryTheirOrientation() throws {
        let plainJPEG = try ImageInput.load(path: fixture("plain.jpg"))
        let turnedJPEG = try ImageInput.load(path: fixture("orientation-6.jpg"))
        XCTAssertEqual([turnedJPEG.width, turnedJPEG.height], [8, 12])
        XCTAssertEqual(turnedJPEG, ExifOrientation.rotatedClockwise.apply(to: plainJPEG))

        let plainWebP = try ImageInput.load(path: fixture("plain.webp"))
        let turnedWebP = try ImageInput.load(path: fixture("orientation-8.webp"))
        XCTAssertEqual(turnedWebP, try ImageInput.load(path: fixture("expected-8.png")), "lossless WebP, as Pillow turns it")
        XCTAssertEqual(plainWebP, try ImageInput.load(path: fixture("expected-1.png")))
    }

    /// EXIF that is cut short or lies about its lengths means "as stored", never a crash.
    func testDamagedEXIFIsIgnored() throws {
        let jpeg = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("orientation-6.jpg"))))
        guard let app1 = (0..<(jpeg.count - 1)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xE1 }) else {
            return XCTFail("no APP1 segment in the fixture")
        }
        for cut in stride(from: app1, to: min(app1 + 40, jpeg.count), by: 1) {
            _ = ExifOrientation.read(Array(jpeg.prefix(cut)))
        }
        var lying = jpeg
        lying[app1 + 2] = 0xFF   // segment length far past the end of the file
        XCTAssertEqual(ExifOrientation.read(lying), .normal)
        var bigIFD = jpeg
        if let ifd = (app1..<(app1 + 40)).first(where: { bigIFD[$0] == 0x49 && bigIFD[$0 + 1] == 0x49 }) {
            bigIFD[ifd + 4] = 0xFF; bigIFD[ifd + 5] = 0xFF   // first directory far outside the segment
            XCTAssertEqual(ExifOrientation.read(bigIFD), .normal)
        }
    }
}
