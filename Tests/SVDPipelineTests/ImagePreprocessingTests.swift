import Foundation
import SVDCore
import TestSupport
import XCTest
import SVDMedia
@testable import SVDPipeline

/// Pillow-Lanczos and CLIP-path preprocessing against fixtures made with Pillow 13 and a NumPy port of diffusers'
/// CLIP path (Tests/Fixtures/images/make_fixtures.py, preprocessing_reference.py), and the reference cases' inputs decoded and preprocessed against
/// diffusers' own `vae_image` and `clip_pixel_values`.
final class ImagePreprocessingTests: XCTestCase {
    static let clipMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    static let clipStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    // MARK: Lanczos

    func testLanczosMatchesPillowBitForBit() throws {
        let dir = Fixtures.path("images/lanczos")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".rgb") }.sorted()
        XCTAssertEqual(names.count, 7, "fixture set")
        var orders: Set<Bool> = []
        for name in names {
            // "W0xH0-to-WxH-seedN.rgb"
            let parts = name.dropLast(4).split(separator: "-")
            let src = parts[0].split(separator: "x").map { Int($0)! }
            let dst = parts[2].split(separator: "x").map { Int($0)! }
            let seed = Int(parts[3].dropFirst(4))!
            let expected = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)")))
            let input = TestPattern.image(width: src[0], height: src[1], seed: seed)
            let out = ImagePreprocessing.lanczosResize(input, width: dst[0], height: dst[1])
            XCTAssertEqual(out.width, dst[0])
            XCTAssertEqual(out.height, dst[1])
            let diff = zip(out.pixels, expected).filter { $0 != $1 }.count
            XCTAssertEqual(diff, 0, "\(name): \(diff) of \(expected.count) bytes differ from Pillow")
            orders.insert(dst[1] < src[1] && src[1] - dst[1] > 2 * (src[0] - dst[0]))
        }
        XCTAssertEqual(orders, [true, false], "both pass orders are covered")
    }

    func testLanczosSameSizeIsACopy() {
        let image = TestPattern.image(width: 31, height: 17, seed: 3)
        XCTAssertEqual(ImagePreprocessing.lanczosResize(image, width: 31, height: 17), image)
    }

    func testLanczosCoefficientsSumToOneInFixedPoint() {
        for (n, m) in [(320, 256), (240, 128), (50, 64), (7, 1), (1, 9)] {
            let k = ImagePreprocessing.FixedPointCoefficients(lanczosFrom: n, to: m)
            for o in 0..<m {
                let sum = (0..<k.count[o]).reduce(0) { $0 + Int(k.weights[o * k.stride + $1]) }
                XCTAssertLessThanOrEqual(abs(sum - (1 << 22)), k.count[o], "\(n)→\(m) row \(o)")
                XCTAssertGreaterThanOrEqual(k.first[o], 0)
                XCTAssertLessThanOrEqual(k.first[o] + k.count[o], n)
            }
        }
    }

    func testVAEInputIsTorchNormalisation() {
        let image = TestPattern.image(width: 24, height: 16, seed: 5)
        let t = ImagePreprocessing.vaeInput(image, width: 24, height: 16)
        XCTAssertEqual(t.shape, [1, 3, 16, 24])
        for y in 0..<16 {
            for x in 0..<24 {
                for c in 0..<3 {
                    let v = Float(image.pixels[(y * 24 + x) * 3 + c]) / 255
                    XCTAssertEqual(t[flat: (c * 16 + y) * 24 + x].bitPattern, (v * 2 - 1).bitPattern)
                }
            }
        }
        XCTAssertEqual(Set(ImagePreprocessing.vaeInput(RGBImage(width: 2, height: 2, pixels: [0, 255, 0, 255, 0, 255,
                                                                                             0, 0, 0, 255, 255, 255]),
                                                       width: 2, height: 2).array), [-1, 1])
    }

    // MARK: CLIP path

    func testGaussianKernelsMatchSpecExample() {
        // A 1024×576 input.
        let ky = ImagePreprocessing.GaussianKernel(inputSize: 576, outputSize: 224)
        let kx = ImagePreprocessing.GaussianKernel(inputSize: 1024, outputSize: 224)
        XCTAssertEqual(ky.sigma, 0.7857142857, accuracy: 1e-9)
        XCTAssertEqual(kx.sigma, 1.7857142857, accuracy: 1e-9)
        assertClose(ky.taps, [0.23542027, 0.52915943, 0.23542027], 1e-7)
        assertClose(kx.taps, [0.05716646, 0.12520689, 0.20041044, 0.23443244, 0.20041044, 0.12520689, 0.05716646], 1e-7)
        let small = ImagePreprocessing.GaussianKernel(inputSize: 100, outputSize: 224)
        XCTAssertEqual(small.taps, [0, 1, 0], "σ = 0.001 is no blur")
    }

    func testBicubicIsIdentityAt224() {
        let axis = ImagePreprocessing.BicubicAxis(inputSize: 224, outputSize: 224)
        for o in 0..<224 {
            for j in 0..<4 where axis.weight[o * 4 + j] != 0 {
                XCTAssertEqual(axis.index[o * 4 + j], o)
                XCTAssertEqual(axis.weight[o * 4 + j], 1)
            }
        }
    }

    /// 1000×800: a 7-tap x blur and a 5-tap y blur, against the NumPy port's clip_pixel_values.
    func testCLIPInputOfLargeImageMatchesNumPyReference() throws {
        let expected = try SafeTensorsFile(path: Fixtures.path("images/clip/pattern-1000x800-seed11.safetensors"))
            .tensor("clip_pixel_values")
        let image = TestPattern.image(width: 1000, height: 800, seed: 11)
        XCTAssertEqual(ImagePreprocessing.GaussianKernel(inputSize: 1000, outputSize: 224).taps.count, 7)
        XCTAssertEqual(ImagePreprocessing.GaussianKernel(inputSize: 800, outputSize: 224).taps.count, 5)
        let got = ImagePreprocessing.clipInput(image, mean: Self.clipMean, std: Self.clipStd)
        XCTAssertEqual(got.shape, [1, 3, 224, 224])
        let err = maxAbsDifference(got, expected)
        print("clip_pixel_values 1000x800 pattern: max abs error vs the NumPy port \(err)")
        XCTAssertLessThan(err, 1e-4)
    }

    func testCLIPInputDoesNotDependOnThreadCount() {
        let image = TestPattern.image(width: 517, height: 301, seed: 9)
        let saved = Parallel.workerCount
        defer { Parallel.workerCount = saved }
        Parallel.workerCount = 1
        let one = ImagePreprocessing.clipInput(image, mean: Self.clipMean, std: Self.clipStd)
        let vaeOne = ImagePreprocessing.vaeInput(image, width: 256, height: 128)
        Parallel.workerCount = 5
        let many = ImagePreprocessing.clipInput(image, mean: Self.clipMean, std: Self.clipStd)
        let vaeMany = ImagePreprocessing.vaeInput(image, width: 256, height: 128)
        XCTAssertEqual(one.array.map(\.bitPattern), many.array.map(\.bitPattern))
        XCTAssertEqual(vaeOne.array.map(\.bitPattern), vaeMany.array.map(\.bitPattern))
    }

    func testCLIPInputOfSmallestImage() {
        let image = RGBImage(width: 2, height: 2, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255])
        let t = ImagePreprocessing.clipInput(image, mean: [0, 0, 0], std: [1, 1, 1])
        // No blur below 224; align_corners bicubic keeps the corners.
        XCTAssertEqual(t[flat: 0], 1, accuracy: 1e-6)                           // R at (0, 0)
        XCTAssertEqual(t[flat: 223], 0, accuracy: 1e-6)                         // R at (0, 223)
        XCTAssertEqual(t[flat: 2 * 224 * 224 + 223 * 224], 1, accuracy: 1e-6)   // B at (223, 0)
        XCTAssertTrue(t.array.allSatisfy { $0.isFinite })
    }

    private func assertClose(_ a: [Float], _ b: [Float], _ tol: Float, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tol, file: file, line: line) }
    }
}

/// The synthetic test image of make_fixtures.py `pattern()`: ramps, hard edges and hashed noise, so that
/// resampling overshoots and clamps. Integer-only, so Swift and NumPy produce the same bytes.
enum TestPattern {
    static func image(width: Int, height: Int, seed: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for c in 0..<3 {
            let salt = UInt32(truncatingIfNeeded: (c + 1) * 83_492_791 + (seed * 2_654_435_761) % (1 << 32))
            let denominator = width * (3 + c) + height * (5 - c)
            for y in 0..<height {
                for x in 0..<width {
                    var h = (UInt32(x) &* 73_856_093) ^ (UInt32(y) &* 19_349_663) ^ salt
                    h ^= h >> 13
                    h = h &* 0x5BD1_E995
                    h ^= h >> 15
                    let noise = Int(h >> 24) - 128
                    let ramp = (x * (3 + c) + y * (5 - c)) * 255 / denominator
                    let edge = ((x / 7) + (y / 5) + c) % 2 == 0 ? 60 : -60
                    pixels[(y * width + x) * 3 + c] = UInt8(clamping: ramp + (noise >> 1) + edge)   // >> 1 floors, as //
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    // MARK: Reference cases: decode + preprocessing vs diffusers

    func testVAEImageOfCasesIsBitIdentical() throws {
        for (name, w, h) in [("basic", 192, 128), ("resize-chunked", 256, 128)] {
            let image = try ImageInput.load(path: Fixtures.casePath(name, "input.png"))
            let expected = try SafeTensorsFile(path: Fixtures.casePath(name, "intermediates.safetensors")).tensor("vae_image")
            let got = ImagePreprocessing.vaeInput(image, width: w, height: h)
            XCTAssertEqual(got.shape, expected.shape, name)
            let differing = (0..<got.count).filter { got[flat: $0].bitPattern != expected[flat: $0].bitPattern }.count
            print("vae_image \(name): \(differing) of \(got.count) values differ")
            XCTAssertEqual(differing, 0, name)
        }
    }

    func testCLIPPixelValuesOfCasesWithinTolerance() throws {
        // The tiny model's feature extractor: OpenAI CLIP's mean and std.
        let mean: [Float] = [0.48145466, 0.4578275, 0.40821073], std: [Float] = [0.26862954, 0.26130258, 0.27577711]
        for name in ["basic", "resize-chunked"] {
            let image = try ImageInput.load(path: Fixtures.casePath(name, "input.png"))
            let expected = try SafeTensorsFile(path: Fixtures.casePath(name, "intermediates.safetensors"))
                .tensor("clip_pixel_values")
            let got = ImagePreprocessing.clipInput(image, mean: mean, std: std)
            XCTAssertEqual(got.shape, expected.shape, name)
            var err: Float = 0
            for i in 0..<got.count { err = max(err, abs(got[flat: i] - expected[flat: i])) }
            print("clip_pixel_values \(name): max abs error \(err)")
            XCTAssertLessThan(err, 1e-4, name)
        }
    }
}
