import Foundation
import XCTest
@testable import SVDCore
import TestSupport
import Crypto

/// The torch-compatible generator against values torch printed and the torch-made fixtures.
final class TorchGeneratorTests: XCTestCase {
    private func gen(_ seed: UInt64) -> TorchGenerator { TorchGenerator(seed: Seed(seed)) }

    // MARK: Generator and uniforms

    func testFirstWordsForSeed42() {
        let g = gen(42)
        XCTAssertEqual((0..<4).map { _ in g.random() }, [0x5FE1_DC66, 0xCBEA_3DB3, 0xF362_035C, 0x2EF5_950E])
        let h = gen(42)
        XCTAssertEqual(h.random64(), 0x5FE1_DC66_CBEA_3DB3, "random64 puts the first word in the high half")
        XCTAssertEqual(h.wordsConsumed, 2)
    }

    func testWordsAcrossTwists() {
        // Two full twists and a bit: consumption bookkeeping and random64 stay consistent with random().
        let a = gen(1234), b = gen(1234)
        let words = (0..<1500).map { _ in a.random() }
        let pairs = (0..<750).map { _ in b.random64() }
        XCTAssertEqual(pairs.flatMap { [UInt32($0 >> 32), UInt32(truncatingIfNeeded: $0)] }, words)
        XCTAssertEqual(a.wordsConsumed, 1500)
    }

    func testUniformAnchors() {
        let g = gen(42)
        XCTAssertEqual((0..<4).map { _ in g.uniformFloat() }, [0.88226926, 0.91500396, 0.38286376, 0.95930564])
        XCTAssertEqual(gen(42).uniformDouble(), 0.05815448596142969)
    }

    func testSeedsUseTheLow32Bits() {
        XCTAssertEqual(draw(Seed(UInt64(1) << 32 + 5), 40), draw(Seed(UInt64(5)), 40))
        XCTAssertEqual(draw(Seed(Int64(-1)), 40), draw(Seed(UInt64(0xFFFF_FFFF)), 40))
        XCTAssertEqual(draw(Seed(UInt64.max), 40), draw(Seed(UInt64(0xFFFF_FFFF)), 40))
        XCTAssertEqual(draw(Seed(parsing: "-1")!, 40), draw(Seed(parsing: "4294967295")!, 40))
        XCTAssertNotEqual(draw(Seed(UInt64(5)), 40), draw(Seed(UInt64(6)), 40))
    }

    private func draw(_ seed: Seed, _ n: Int) -> [UInt32] {
        TorchGenerator(seed: seed).randn(count: n).map(\.bitPattern)
    }

    // MARK: randn anchors

    func testBlockFillAnchors() {
        XCTAssertEqual(gen(42).randn(count: 16).prefix(4).map(\.bitPattern),
                       [0x3FF6_A529, 0x3FBE_5F53, 0x3F66_9567, 0xC006_C0DB])
        let seventeen = gen(42).randn(count: 17)
        XCTAssertEqual(seventeen.suffix(4).map(\.bitPattern), [0x3D2B_0C00, 0xBE80_CE7A, 0x3F5C_1FB0, 0xBE9E_9482])
        XCTAssertEqual(gen(42).randn(count: 1000).prefix(4).map(\.bitPattern),
                       [0x3FF6_A529, 0x3FBE_5F53, 0x3F66_9567, 0xC006_C0DB], "same start for any larger randn")
    }

    func testScalarPathAnchorsAndCache() {
        XCTAssertEqual(gen(42).randn(count: 4), [0.33669037, 0.12880941, 0.23446237, 0.23033303])
        XCTAssertEqual(gen(42).randnDouble(count: 4),
                       [0.33669035438385886, 0.1288094051365897, 0.23446236336153173, 0.2303330279146119])

        // randn(1), randn(16), randn(1): the block fill neither reads nor clears the cached sine.
        let g = gen(42)
        XCTAssertEqual(g.randn(count: 1), [0.33669037])
        XCTAssertEqual(g.wordsConsumed, 4)
        XCTAssertEqual(g.cachedNormal, 0.1288094051365897)
        _ = g.randn(count: 16)
        XCTAssertEqual(g.wordsConsumed, 20)
        XCTAssertEqual(g.cachedNormal, 0.1288094051365897)
        XCTAssertEqual(g.randn(count: 1), [0.12880941])
        XCTAssertEqual(g.wordsConsumed, 20, "a cached value costs no words")
        XCTAssertNil(g.cachedNormal)

        // The cache is shared by float and double calls.
        let h = gen(42)
        _ = h.randn(count: 1)
        XCTAssertEqual(h.randnDouble(count: 1), [0.1288094051365897])
    }

    func testWordsConsumedPerCall() {
        for n in [16, 17, 31, 32, 33, 100, 1000, 4097] {
            let f = gen(7)
            _ = f.randn(count: n)
            XCTAssertEqual(f.wordsConsumed, n + (n % 16 == 0 ? 0 : 16), "float32 n = \(n)")
            let d = gen(7)
            _ = d.randnDouble(count: n)
            XCTAssertEqual(d.wordsConsumed, 2 * (n + (n % 16 == 0 ? 0 : 16)), "float64 n = \(n)")
        }
        // Small path: 4·⌈(n − c)/2⌉ words, c = 1 when a cached value exists; a value stays cached iff n − c is odd.
        for first in 1..<16 {
            for second in 1..<16 {
                let g = gen(3)
                _ = g.randn(count: first)
                XCTAssertEqual(g.wordsConsumed, 4 * ((first + 1) / 2))
                XCTAssertEqual(g.cachedNormal != nil, first % 2 == 1)
                let c = first % 2
                let before = g.wordsConsumed
                _ = g.randn(count: second)
                XCTAssertEqual(g.wordsConsumed - before, 4 * ((second - c + 1) / 2), "randn(\(first)) then randn(\(second))")
                XCTAssertEqual(g.cachedNormal != nil, (second - c) % 2 == 1)
            }
        }
        let empty = gen(1)
        XCTAssertEqual(empty.randn(count: 0), [])
        XCTAssertEqual(empty.wordsConsumed, 0)
    }

    func testNoNegativeZeroAndShape() {
        let t = gen(0).randn(shape: [2, 3, 5, 7])
        XCTAssertEqual(t.shape, [2, 3, 5, 7])
        XCTAssertEqual(t.array.map(\.bitPattern), gen(0).randn(count: 210).map(\.bitPattern))
        XCTAssertFalse(gen(9).randn(count: 100_000).contains { $0 == 0 && $0.sign == .minus })
    }

    // MARK: Fixtures made by torch

    func testEveryFixtureTensorBitExact() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("randn.safetensors"))
        var identical = 0, total = 0
        for name in file.names {
            let parts = name.split(separator: "_")   // randn_{f32|f64}_seed{S}_shape{d0}x{d1}...
            XCTAssertEqual(parts.count, 4, name)
            let seed = try XCTUnwrap(Seed(parsing: String(parts[2].dropFirst("seed".count))), name)
            let shape = parts[3].dropFirst("shape".count).split(separator: "x").map { Int($0)! }
            let info = try file.info(name)
            XCTAssertEqual(info.shape, shape, name)
            let count = Tensor.elementCount(shape)
            let raw = file.rawBytes(info)
            let g = TorchGenerator(seed: seed)
            var same = 0
            switch parts[1] {
            case "f32":
                XCTAssertEqual(info.dtype, .f32)
                let ours = g.randn(shape: shape)
                for i in 0..<count where ours[flat: i].bitPattern == raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) {
                    same += 1
                }
            case "f64":
                XCTAssertEqual(info.dtype, .f64)
                let ours = g.randnDouble(count: count)
                for i in 0..<count where ours[i].bitPattern == raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self) {
                    same += 1
                }
            default:
                XCTFail("unexpected dtype in \(name)")
            }
            XCTAssertEqual(same, count, "\(name): \(same) of \(count) bit-identical")
            identical += same
            total += count
        }
        XCTAssertEqual(file.names.count, 25)
        print("randn.safetensors: \(identical) / \(total) values bit-identical in \(file.names.count) tensors")
        XCTAssertEqual(identical, total)
    }

    /// diffusers' two draws (noise augmentation, then latents) from one generator, for both cases.
    func testPipelineDrawsOfBothCases() throws {
        for name in ["basic", "resize-chunked"] {
            let json = try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: Fixtures.casePath(name, "case.json")))) as! [String: Any]
            let seed = try XCTUnwrap(Seed(parsing: "\(json["seed"]!)"))
            let file = try SafeTensorsFile(path: Fixtures.casePath(name, "intermediates.safetensors"))
            let noise = try file.tensor("noise_aug_noise")
            let latentsInit = try file.tensor("latents_init")
            let sigma = try file.tensor("init_noise_sigma")[flat: 0]

            let g = TorchGenerator(seed: seed)
            let ours = g.randn(shape: noise.shape)
            XCTAssertEqual(ours.array.map(\.bitPattern), noise.array.map(\.bitPattern), "\(name): noise_aug_noise")
            let latents = g.randn(shape: latentsInit.shape)
            let scaled = latents.array.map { $0 * sigma }
            let same = zip(scaled, latentsInit.array).filter { $0.bitPattern == $1.bitPattern }.count
            XCTAssertEqual(same, latentsInit.count, "\(name): latents_init \(same) of \(latentsInit.count) identical")
        }
    }
}

extension TorchGeneratorTests {
    /// The full-size SVD draw sequence for seed 42 at 576×1024, by SHA-256 of the value bytes.
    func testSVDSequenceAt576x1024() {
        func sha(_ t: Tensor) -> String {
            let bytes = UnsafeRawBufferPointer(start: t.data, count: 4 * t.count)
            return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        }
        let alone = TorchGenerator(seed: Seed(UInt64(42))).randn(shape: [1, 25, 4, 72, 128])
        XCTAssertEqual(sha(alone), "277906e33492f8853d0c070eb8a6075cbabe158c15c8bd96d0fe0158ea24d924")

        let g = TorchGenerator(seed: Seed(UInt64(42)))
        let noise = g.randn(shape: [1, 3, 576, 1024])
        XCTAssertEqual(sha(noise), "c878b0e369cf778a085720e07f86cf495933c56f8a012946a952a3acbf3298ef")
        let latents = g.randn(shape: [1, 25, 4, 72, 128])
        XCTAssertEqual(latents.array.prefix(4).map(\.bitPattern), [0x3F42_5726, 0xBE9C_39BF, 0xBF25_412F, 0xC012_A9F9])
        XCTAssertEqual(sha(latents), "0a546cf9f02fa98a6d1db38906e0fa1a8b19931cb405ae8e5608df105112e5e3")
    }
}
