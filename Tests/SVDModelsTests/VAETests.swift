import Foundation
import SVDCore
@testable import SVDModels
import TestSupport
import XCTest

final class VAETests: XCTestCase {
    static let cases = ["basic", "resize-chunked"]

    /// `source` wraps the file, e.g. to expand its float16 weights at load.
    static func loadVAE(source: (SafeTensorsFile) -> any WeightSource = { $0 }) throws -> AutoencoderKLTemporalDecoder {
        let dir = Fixtures.demoModel.appendingPathComponent("vae")
        let config = try JSONValue.parse(Data(contentsOf: dir.appendingPathComponent("config.json")))
        let blocks = try XCTUnwrap(config["block_out_channels"]?.arrayValue?.compactMap(\.intValue))
        let weights = try SafeTensorsFile(path: dir.appendingPathComponent("diffusion_pytorch_model.safetensors").path)
        let layout = VAELayout(blockOutChannels: blocks, layersPerBlock: try XCTUnwrap(config["layers_per_block"]?.intValue),
                               latentChannels: try XCTUnwrap(config["latent_channels"]?.intValue))
        return try AutoencoderKLTemporalDecoder(Weights(source(weights)), layout: layout,
                                                scalingFactor: try XCTUnwrap(config["scaling_factor"]?.doubleValue))
    }

    static func reference(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.casePath(name, "intermediates.safetensors"))
    }

    /// `latents_final` [M, F, 4, h, w] flattened to [M·F, 4, h, w].
    static func finalLatents(_ ref: SafeTensorsFile) throws -> Tensor {
        let z = try ref.tensor("latents_final")
        return z.reshaped([-1] + Array(z.shape.suffix(3)))
    }

    /// encode(vae_image_noisy) vs the conditional (last) row of `image_latents`, ≤ 3e-4 abs.
    func testEncodeMatchesReference() throws {
        let vae = try Self.loadVAE()
        for name in Self.cases {
            let ref = try Self.reference(name)
            let image = try ref.tensor("vae_image_noisy")
            let expected = try ref.tensor("image_latents")  // [2, 4, h, w]: uncond zeros, then cond
            let latents = vae.encode(image)
            XCTAssertEqual(latents.shape, [1] + Array(expected.shape.dropFirst()))
            let err = maxAbsDifference(latents, expected.slice(first: 1, 1))
            print("VAE encode \(name): max abs error \(err)")
            XCTAssertLessThanOrEqual(err, 3e-4, name)
        }
    }

    /// Chunked decode of `latents_final` with the case's decode_chunk_size vs `frames_decoded`, ≤ 2e-3 abs.
    func testChunkedDecodeMatchesReference() throws {
        let vae = try Self.loadVAE()
        for name in Self.cases {
            let ref = try Self.reference(name)
            let caseJSON = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: Fixtures.casePath(name, "case.json"))))
            let chunk = try XCTUnwrap(caseJSON["decode_chunk_size"]?.intValue)
            let expected = try ref.tensor("frames_decoded")  // [k, 3, H, W] at frames_decoded_indices
            let indices = try int64Values(ref, "frames_decoded_indices")
            let z = try Self.finalLatents(ref)
            let frames = vae.decode(latents: z, chunkSize: chunk)
            XCTAssertEqual(frames.shape, [z.shape[0]] + Array(expected.shape.dropFirst()))
            var err: Float = 0
            for (k, index) in indices.enumerated() {
                err = max(err, maxAbsDifference(frames.slice(first: index, 1), expected.slice(first: k, 1)))
            }
            print("VAE decode \(name) (chunks of \(chunk), \(z.shape[0]) frames): max abs error \(err) at frames \(indices)")
            XCTAssertLessThanOrEqual(err, 2e-3, name)
        }
    }

    /// The fixed work partitions make the decoder's bits independent of the worker count.
    func testDecodeIsBitIdenticalAcrossWorkerCounts() throws {
        let vae = try Self.loadVAE()
        // 14 frames of 16×16 latents (a 128×128 clip) in one chunk, so a worker-dependent grouping of frames would
        // change the convolution panels. Whether that shows in the bits depends on the BLAS kernels; the pinned
        // executable's case is checked in RerenderTests.
        let z = TorchGenerator(seed: Seed(parsing: "3")!).randn(shape: [14, 4, 16, 16])
        let saved = Parallel.workerCount
        defer { Parallel.workerCount = saved }
        var outputs: [[Float]] = []
        for workers in [1, 2, 5] {
            Parallel.workerCount = workers
            outputs.append(vae.decode(latents: z, chunkSize: 14).array)
        }
        XCTAssertEqual(outputs[0].map(\.bitPattern), outputs[1].map(\.bitPattern))
        XCTAssertEqual(outputs[0].map(\.bitPattern), outputs[2].map(\.bitPattern))
    }

    /// Decoding in chunks is decoding each chunk as its own video.
    func testDecodeChunksAreIndependentVideos() throws {
        let vae = try Self.loadVAE()
        let z = try Self.finalLatents(try Self.reference("resize-chunked")).slice(first: 0, 3)
        let chunked = vae.decode(latents: z, chunkSize: 2)
        let scale = Float(1 / vae.scalingFactor)
        let first = vae.decoder(Elementwise.map(z.slice(first: 0, 2)) { $0 * scale }, frames: 2)
        let last = vae.decoder(Elementwise.map(z.slice(first: 2, 1)) { $0 * scale }, frames: 1)
        XCTAssertEqual(chunked.array, Tensor.concat(first: [first, last]).array)
        XCTAssertNotEqual(chunked.array, vae.decode(latents: z, chunkSize: 3).array)
    }

    /// The decoder before streaming: every layer on the whole chunk, as `SpatioTemporalResBlock` still runs in
    /// the UNet.
    static func wholeChunkForward(_ d: TemporalDecoder, _ z: Tensor, frames: Int) -> Tensor {
        var h = d.midResnets[0](d.convIn(z), temb: nil, frames: frames)
        if let attention = d.midAttention { h = d.midResnets[1](attention(h), temb: nil, frames: frames) }
        for block in d.upBlocks {
            for r in block.resnets { h = r(h, temb: nil, frames: frames) }
            if let up = block.upsample { h = up(Resample.nearest(h, height: 2 * h.shape[2], width: 2 * h.shape[3])) }
        }
        return d.timeConvOut(d.convOut(d.normOut(h, silu: true)), frames: frames)
    }

    /// Streaming computes what the whole-chunk forward computes, for whole-chunk groups, one-frame groups (every
    /// ring and group path) and two videos in one call. Not bit for bit: the two run their products over other
    /// column partitions, and OpenBLAS's Haswell kernels (those every AVX2 machine runs) round a column by its
    /// place in a partition; so the bound is float32 rounding (4e-5 measured on outputs of ±2.5; a misplaced
    /// frame or channel is off by tenths). The streamed decoder's own bits are fixed by
    /// shape (`testDecodeIsBitIdenticalAcrossWorkerCounts`, the golden frames).
    func testStreamedDecoderMatchesWholeChunkForward() throws {
        let vae = try Self.loadVAE()
        let z = try Self.finalLatents(try Self.reference("resize-chunked")).slice(first: 0, 5)
        var oneFrameGroups = vae.decoder
        oneFrameGroups.groupTargetTasks = 1
        for (rows, frames) in [(5, 5), (4, 2)] {
            let input = z.slice(first: 0, rows)
            let expected = Self.wholeChunkForward(vae.decoder, input, frames: frames).array
            for decoder in [vae.decoder, oneFrameGroups] {
                let streamed = decoder(input, frames: frames).array
                XCTAssertEqual(streamed.count, expected.count)
                let worst = zip(streamed, expected).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThan(worst, 1e-4, "\(rows) rows of \(frames)-frame videos, group target \(decoder.groupTargetTasks.map(String.init) ?? "default")")
            }
        }
    }

    /// The channel-major attention op equals the token-layout one on transposed inputs (two heads, two query blocks).
    func testChannelMajorAttentionMatchesTokenAttention() {
        let n = 2, c = 8, l = 300, heads = 2
        func pseudoRandom(_ seed: Float) -> Tensor {
            let t = Tensor(uninitialized: [n, c, 15, 20])
            for i in 0..<t.count { t.data[i] = sinf(Float(i) * 0.731 + seed) * 2 }
            return t
        }
        func tokens(_ t: Tensor) -> Tensor {
            let out = Tensor(uninitialized: [n, l, c])
            for b in 0..<n { for ch in 0..<c { for p in 0..<l { out.data[(b * l + p) * c + ch] = t.data[(b * c + ch) * l + p] } } }
            return out
        }
        let q = pseudoRandom(0), k = pseudoRandom(1), v = pseudoRandom(2)
        let channelMajor = Attention.channelMajor(q: q, k: k, v: v, heads: heads)
        let reference = Attention.scaledDotProduct(q: tokens(q), k: tokens(k), v: tokens(v), heads: heads)
        XCTAssertLessThanOrEqual(maxAbsDifference(tokens(channelMajor), reference), 1e-5)
    }

    func testMismatchedConfigThrows() throws {
        let path = Fixtures.demoModel.appendingPathComponent("vae/diffusion_pytorch_model.safetensors").path
        let weights = Weights(try SafeTensorsFile(path: path))
        let layout = VAELayout(blockOutChannels: [32, 64, 64, 64], layersPerBlock: 2, latentChannels: 4)
        XCTAssertThrowsError(try AutoencoderKLTemporalDecoder(weights, layout: layout, scalingFactor: 0.18215)) { error in
            // The first tensor read whose shape the wrong width contradicts: block 1 is 32 → 64 here, 32 → 32 stored.
            XCTAssertEqual(error as? WeightShapeError, WeightShapeError(key: "encoder.down_blocks.1.resnets.0.conv1.weight",
                                                                        expected: [64, 32, 3, 3], actual: [32, 32, 3, 3]))
        }
    }
}

/// An I64 tensor's values (little-endian).
private func int64Values(_ file: SafeTensorsFile, _ name: String) throws -> [Int] {
    let info = try file.info(name)
    XCTAssertEqual(info.dtype, .i64)
    let raw = file.rawBytes(info)
    return (0..<info.elementCount).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
}
