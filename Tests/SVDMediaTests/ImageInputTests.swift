import Crypto
import Foundation
import SVDCore
import TestSupport
import XCTest
@testable import SVDMedia

/// Still-image decoding (Pillow-identical PNG, FFmpeg for the rest), hostile files, PNG writing, and the
/// pipeline inputs of the reference cases end to end (decode + preprocessing vs diffusers' intermediates).
final class ImageInputTests: XCTestCase {
    private var folder: ScratchDirectory!
    private var scratch: URL { folder.url }

    override func setUpWithError() throws { folder = try ScratchDirectory("imageinput") }
    override func tearDown() { folder = nil }

    // MARK: PNG, every colour type, against Pillow's convert("RGB")

    func testPNGColourTypesDecodeToPillowBytes() throws {
        let dir = Fixtures.path("images/png")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".png") }.sorted()
        XCTAssertEqual(names.count, 25, "fixture set")
        for name in names {
            let expected = try bytes(of: "\(dir)/\(name.dropLast(4)).rgb")
            let image = try ImageInput.load(path: "\(dir)/\(name)")
            XCTAssertEqual(image.width, 13, name)
            XCTAssertEqual(image.height, 9, name)
            let diff = zip(image.pixels, expected).filter { $0 != $1 }.count
            XCTAssertEqual(diff, 0, "\(name): \(diff) of \(expected.count) bytes differ from Pillow")
        }
    }

    /// case.json's `input_pixels_sha256` is the SHA-256 of Pillow's RGB bytes.
    func testCaseInputsDecodeToPillowPixels() throws {
        for name in ["basic", "resize-chunked"] {
            let image = try ImageInput.load(path: Fixtures.casePath(name, "input.png"))
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath:
                Fixtures.casePath(name, "case.json")))) as! [String: Any]
            XCTAssertEqual([image.width, image.height], json["input_size_wh"] as? [Int], name)
            let digest = SHA256.hash(data: image.pixels).map { String(format: "%02x", $0) }.joined()
            XCTAssertEqual(digest, json["input_pixels_sha256"] as? String, name)
        }
    }

    // MARK: FFmpeg stills

    func testJPEGWebPAndBMPDecode() throws {
        let expected: [[Int]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]
        for (name, tolerance) in [("quadrants.jpg", 12), ("quadrants.webp", 12), ("quadrants-lossless.webp", 0),
                                  ("quadrants.bmp", 0)] {
            let image = try ImageInput.load(path: Fixtures.path("images/other/\(name)"))
            XCTAssertEqual([image.width, image.height], [63, 47], name)
            for (i, (x, y)) in [(16, 12), (48, 12), (16, 36), (48, 36)].enumerated() {
                let p = (y * image.width + x) * 3
                for c in 0..<3 {
                    XCTAssertLessThanOrEqual(abs(Int(image.pixels[p + c]) - expected[i][c]), tolerance,
                                             "\(name) quadrant \(i) channel \(c)")
                }
            }
        }
    }

    func testDecoderIsChosenBySignatureNotExtension() throws {
        let png = Fixtures.path("images/png/rgb8.png"), jpg = Fixtures.path("images/other/quadrants.jpg")
        let pngAsJpg = try copy(png, as: "really-a-png.jpg")
        let jpgAsPng = try copy(jpg, as: "really-a-jpeg.png")
        XCTAssertEqual(try ImageInput.load(path: pngAsJpg), try ImageInput.load(path: png))
        XCTAssertEqual(try ImageInput.load(path: jpgAsPng), try ImageInput.load(path: jpg))
        XCTAssertEqual(ImageSignature(try bytes(of: png)), .png)
        XCTAssertEqual(ImageSignature(try bytes(of: jpg)), .other(.jpeg))
        XCTAssertEqual(ImageSignature(try bytes(of: Fixtures.path("images/other/quadrants.webp"))), .other(.webp))
    }

    // MARK: Hostile and broken files

    func testMissingUnreadableAndEmptyFiles() throws {
        let missing = scratch.appendingPathComponent("nope.png").path
        XCTAssertEqual(loadError(missing), .missing(path: missing))
        XCTAssertEqual(loadError(scratch.path), .unreadable(path: scratch.path, reason: "it is a directory"))
        let empty = try write([], as: "empty.png")
        XCTAssertEqual(loadError(empty), .empty(path: empty))
        let message = "\(ImageInputError.empty(path: empty))"
        XCTAssertTrue(message.contains(empty), message)
    }

    func testGarbageIsUnsupported() throws {
        var rng = SplitMix(seed: 7)
        let garbage = try write((0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, as: "garbage.png")
        guard case .unsupportedFormat(let p, _)? = loadError(garbage) else {
            return XCTFail("garbage: \(String(describing: loadError(garbage)))")
        }
        XCTAssertEqual(p, garbage)
        let text = try write(Array("just some text, not an image\n".utf8), as: "text.jpg")
        guard case .unsupportedFormat? = loadError(text) else { return XCTFail("\(String(describing: loadError(text)))") }
    }

    func testTruncatedPNGs() throws {
        let png = try bytes(of: Fixtures.path("images/png/rgb8.png"))
        let idat = try XCTUnwrap(chunks(png).first { $0.type == "IDAT" })
        for (label, length) in [("signature only", 8), ("inside IHDR", 20), ("before IDAT", idat.start),
                                ("inside IDAT", idat.start + 8 + idat.length / 2)] {
            let path = try write(Array(png.prefix(length)), as: "cut-\(length).png")
            guard case .truncated(let p, _)? = loadError(path) else {
                XCTFail("\(label): \(String(describing: loadError(path)))")
                continue
            }
            XCTAssertEqual(p, path)
        }
        // Deleting the second half of the image data (the IDATs cut short, the rest of the file intact).
        let idats = chunks(png).filter { $0.type == "IDAT" }
        var shortened = Array(png[..<idats[1].start])
        shortened += png[idats.last!.start + 12 + idats.last!.length..<png.count]
        let path = try write(shortened, as: "missing-idat.png")
        switch loadError(path) {
        case .corrupt?, .truncated?: break
        case let other: XCTFail("missing IDAT: \(String(describing: other))")
        }
    }

    func testCorruptPNGs() throws {
        let png = try bytes(of: Fixtures.path("images/png/rgb8.png"))
        let idat = try XCTUnwrap(chunks(png).first { $0.type == "IDAT" })
        // Intact data, wrong IDAT CRC. (Pillow does not check IDAT CRCs; refusing is the safer side.)
        var badCRC = png
        badCRC[idat.start + 8 + idat.length] ^= 0x55
        let crcPath = try write(badCRC, as: "bad-crc.png")
        guard case .corrupt(_, let detail)? = loadError(crcPath) else {
            return XCTFail("bad CRC: \(String(describing: loadError(crcPath)))")
        }
        XCTAssertTrue(detail.contains("CRC"), detail)
        // A flipped byte inside IDAT: the zlib stream or the CRC check fails first.
        var flipped = png
        flipped[idat.start + 8 + 3] ^= 0x55
        let flippedPath = try write(flipped, as: "flipped.png")
        guard case .corrupt? = loadError(flippedPath) else { return XCTFail("\(String(describing: loadError(flippedPath)))") }
        // Damaged zlib data with a valid CRC.
        var badZlib = png
        for i in 0..<min(8, idat.length) { badZlib[idat.start + 8 + i] = 0xFF }
        fixCRC(&badZlib, idat)
        let zlibPath = try write(badZlib, as: "bad-zlib.png")
        guard case .corrupt? = loadError(zlibPath) else { return XCTFail("\(String(describing: loadError(zlibPath)))") }
        // A header promising 100000×100000 pixels.
        var bomb = png
        let ihdr = try XCTUnwrap(chunks(png).first { $0.type == "IHDR" })
        for offset in [0, 4] { bomb.replaceSubrange(ihdr.start + 8 + offset..<ihdr.start + 12 + offset, with: be32(100_000)) }
        fixCRC(&bomb, ihdr)
        let bombPath = try write(bomb, as: "bomb.png")
        guard case .tooLarge? = loadError(bombPath) else { return XCTFail("\(String(describing: loadError(bombPath)))") }
        // Zero width.
        var zero = png
        zero.replaceSubrange(ihdr.start + 8..<ihdr.start + 12, with: be32(0))
        fixCRC(&zero, ihdr)
        let zeroPath = try write(zero, as: "zero.png")
        guard case .corrupt? = loadError(zeroPath) else { return XCTFail("\(String(describing: loadError(zeroPath)))") }
    }

    func testTooSmallImagesAreRefused() throws {
        let one = try PNGWriter.encode(RGBImage(width: 1, height: 5, pixels: [UInt8](repeating: 9, count: 15)))
        let path = try write(one, as: "1x5.png")
        XCTAssertEqual(loadError(path), .tooSmall(path: path, width: 1, height: 5))
        let two = try PNGWriter.encode(RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 9, count: 12)))
        XCTAssertEqual(try ImageInput.load(path: try write(two, as: "2x2.png")).pixels, [UInt8](repeating: 9, count: 12))
    }

    func testTruncatedAndDamagedJPEGAndWebP() throws {
        let jpg = try bytes(of: Fixtures.path("images/other/quadrants.jpg"))
        let webp = try bytes(of: Fixtures.path("images/other/quadrants.webp"))
        for (name, data) in [("jpg", jpg), ("webp", webp)] {
            for fraction in [0.1, 0.5, 0.9] {
                let path = try write(Array(data.prefix(Int(Double(data.count) * fraction))), as: "cut-\(fraction).\(name)")
                guard case .truncated? = loadError(path) else {
                    XCTFail("\(name) cut at \(fraction): \(String(describing: loadError(path)))")
                    continue
                }
            }
        }
        // The JPEG signature followed by garbage.
        var rng = SplitMix(seed: 3)
        let fake = try write([0xFF, 0xD8, 0xFF, 0xE0] + (0..<2000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            + [0xFF, 0xDA, 0, 0, 0xFF, 0xD9], as: "fake.jpg")
        guard case .corrupt? = loadError(fake) else { return XCTFail("\(String(describing: loadError(fake)))") }
    }

    /// Random cuts and byte flips of every kind of input: only typed errors or images, never a crash.
    func testDamagedFilesNeverCrash() throws {
        var rng = SplitMix(seed: 42)
        let sources = ["png/rgb8-interlaced.png", "png/palette4.png", "png/gray16.png", "other/quadrants.jpg",
                       "other/quadrants.webp", "other/quadrants-lossless.webp", "other/quadrants.bmp"]
        var outcomes = [String: Int]()
        for source in sources {
            let original = try bytes(of: Fixtures.path("images/\(source)"))
            for trial in 0..<40 {
                var data = original
                if trial % 2 == 0 {
                    data = Array(data.prefix(Int(rng.next() % UInt64(data.count))))
                } else {
                    for _ in 0..<(1 + trial % 5) {
                        let i = 8 + Int(rng.next() % UInt64(data.count - 8))
                        data[i] = UInt8(truncatingIfNeeded: rng.next())
                    }
                }
                do {
                    let image = try ImageInput.decode(data, path: source)
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                    outcomes["decoded", default: 0] += 1
                } catch let error as ImageInputError {
                    XCTAssertEqual(error.path, source)
                    outcomes["\(error)".components(separatedBy: " (").first!.components(separatedBy: ": ").last!,
                             default: 0] += 1
                }
            }
        }
        print("damaged-file outcomes: \(outcomes.sorted { $0.key < $1.key })")
    }

    // MARK: PNG writing

    func testPNGWriterRoundTrip() throws {
        var rng = SplitMix(seed: 1)
        let image = RGBImage(width: 37, height: 23, pixels: (0..<37 * 23 * 3).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        let encoded = try PNGWriter.encode(image)
        XCTAssertEqual(Array(encoded.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(try ImageInput.decode(encoded, path: "memory"), image)
        XCTAssertEqual(try PNGWriter.encode(image), encoded, "deterministic")
        XCTAssertEqual(chunks(encoded).map(\.type).first, "IHDR")
        XCTAssertEqual(Set(chunks(encoded).map(\.type)), ["IHDR", "IDAT", "IEND"])

        let path = scratch.appendingPathComponent("out.png").path
        try PNGWriter.write(image, to: path, compressionLevel: 1)
        XCTAssertEqual(try ImageInput.load(path: path), image)
        XCTAssertThrowsError(try PNGWriter.encode(image, compressionLevel: 10))
        let nowhere = scratch.appendingPathComponent("no/such/dir/out.png").path
        XCTAssertThrowsError(try PNGWriter.write(image, to: nowhere)) { error in
            guard case PNGWriterError.writeFailed(let p, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, nowhere)
        }
    }

    // MARK: Helpers

    private func loadError(_ path: String) -> ImageInputError? {
        do {
            _ = try ImageInput.load(path: path)
            return nil
        } catch let error as ImageInputError {
            return error
        } catch {
            XCTFail("untyped error \(error)")
            return nil
        }
    }

    private func bytes(of path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    private func write(_ data: [UInt8], as name: String) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(data).write(to: url)
        return url.path
    }

    private func copy(_ path: String, as name: String) throws -> String { try write(try bytes(of: path), as: name) }

    private struct Chunk { let type: String; let start: Int; let length: Int }

    /// The chunks of a PNG: `start` is the offset of the length field.
    private func chunks(_ png: [UInt8]) -> [Chunk] {
        var out = [Chunk](), i = 8
        while i + 12 <= png.count {
            let length = Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3])
            out.append(Chunk(type: String(decoding: png[i + 4..<i + 8], as: UTF8.self), start: i, length: length))
            i += 12 + length
        }
        return out
    }

    private func fixCRC(_ png: inout [UInt8], _ chunk: Chunk) {
        let crc = crc32(png[chunk.start + 4..<chunk.start + 8 + chunk.length])
        png.replaceSubrange(chunk.start + 8 + chunk.length..<chunk.start + 12 + chunk.length, with: be32(crc))
    }

    private func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    private func crc32(_ data: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}

/// A tiny deterministic generator for test data.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
