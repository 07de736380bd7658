import Foundation
import SVDCore
@testable import SVDModels
import TestSupport
import XCTest

/// Weights of 16-bit files kept compact and expanded per call give the same bits as weights expanded at load.
final class CompactWeightsTests: XCTestCase {
    /// The demo UNet stores float16: one step-0 evaluation, compact against expanded.
    func testUNetOutputIsBitIdenticalWithCompactWeights() throws {
        let compact = try UNetTests.loadUNet()
        let expanded = try UNetTests.loadUNet(source: { ExpandedAtLoad(file: $0) })
        XCTAssertTrue(compact.convIn.weight.isCompact, "the demo UNet's float16 weights stay compact")
        XCTAssertFalse(expanded.convIn.weight.isCompact)
        let ref = try SafeTensorsFile(path: Fixtures.casePath("basic", "intermediates.safetensors"))
        let (x, t, context, ids) = try UNetTests.stepZeroInput(ref)
        let a = compact(sample: x, timestep: t, context: context, addedTimeIds: ids)
        let b = expanded(sample: x, timestep: t, context: context, addedTimeIds: ids)
        XCTAssertEqual(Self.bits(a), Self.bits(b))
    }

    /// The demo VAE (float16): encode and a chunked decode, which run every conv kind and the mid-block attention.
    func testVAEIsBitIdenticalWithCompactWeights() throws {
        let compact = try VAETests.loadVAE()
        let expanded = try VAETests.loadVAE(source: { ExpandedAtLoad(file: $0) })
        let images = Self.pattern([2, 3, 32, 48])
        XCTAssertEqual(Self.bits(compact.encode(images)), Self.bits(expanded.encode(images)))
        let latents = Self.pattern([3, 4, 4, 6])
        XCTAssertEqual(Self.bits(compact.decode(latents: latents, chunkSize: 2)),
                       Self.bits(expanded.decode(latents: latents, chunkSize: 2)))
    }

    /// Layers built from a file written here, float16 and bfloat16, with subnormal, zero and extreme weights.
    func testLayersFromWrittenHalfFileAreBitIdentical() throws {
        let dir = try ScratchDirectory("compact-weights")
        var writer = SafeTensorsWriter()
        let specials: [Float] = [0, -0, 6e-8, -6e-8, 3e-5, 65504, -65504, 1, -2.5]
        func values(_ n: Int) -> [Float] { (0..<n).map { i in i % 5 == 0 ? specials[i % specials.count] : sinf(Float(i) * 0.7) } }
        writer.addF16("linear.weight", shape: [6, 5], values: values(30))
        writer.addF16("linear.bias", shape: [6], values: values(6))
        writer.addBF16("conv.weight", shape: [4, 3, 3, 3], values: values(108))
        writer.addF16("conv.bias", shape: [4], values: values(4))
        writer.addF16("time.weight", shape: [4, 4, 3, 1, 1], values: values(48))
        writer.addF16("time.bias", shape: [4], values: values(4))
        writer.addF16("ff.net.0.proj.weight", shape: [8, 5], values: values(40))
        writer.addF16("ff.net.0.proj.bias", shape: [8], values: values(8))
        writer.addF16("ff.net.2.weight", shape: [5, 4], values: values(20))
        writer.addF16("ff.net.2.bias", shape: [5], values: values(5))
        let url = dir.path("half.safetensors")
        try writer.write(to: url)
        let file = try SafeTensorsFile(path: url.path)
        let compact = Weights(file), expanded = Weights(ExpandedAtLoad(file: file))

        let tokens = Self.pattern([2, 3, 5])
        let linear = try LinearLayer(compact["linear"], in: 5, out: 6)
        XCTAssertTrue(linear.weight.isCompact)
        XCTAssertEqual(Self.bits(linear(tokens)), Self.bits(try LinearLayer(expanded["linear"], in: 5, out: 6)(tokens)))
        XCTAssertEqual(Self.bits(try GEGLUFeedForward(compact["ff"], channels: 5, inner: 4)(tokens)),
                       Self.bits(try GEGLUFeedForward(expanded["ff"], channels: 5, inner: 4)(tokens)))

        let image = Self.pattern([2, 3, 7, 6])
        let conv = try Conv2dLayer(compact["conv"], in: 3, out: 4, kernel: 3, stride: 2, padding: .same(1))
        XCTAssertTrue(conv.weight.isCompact)
        XCTAssertEqual(Self.bits(conv(image)),
                       Self.bits(try Conv2dLayer(expanded["conv"], in: 3, out: 4, kernel: 3, stride: 2, padding: .same(1))(image)))

        let frames = Self.pattern([6, 4, 3, 2])
        XCTAssertEqual(Self.bits(try TemporalConvLayer(compact["time"], channels: 4)(frames, frames: 3)),
                       Self.bits(try TemporalConvLayer(expanded["time"], channels: 4)(frames, frames: 3)))
    }

    static func pattern(_ shape: [Int]) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.data[i] = sinf(Float(i) * 0.37) }
        return t
    }

    static func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }
}

/// A file whose weights are all expanded to float32 at load: the protocol's default `weight`.
private struct ExpandedAtLoad: WeightSource {
    let file: SafeTensorsFile
    func tensor(_ key: String) throws -> Tensor { try file.tensor(key) }
}
