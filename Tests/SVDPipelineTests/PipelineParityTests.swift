import Foundation
import XCTest
import SVDCore
import SVDMedia
import SVDModels
import TestSupport
@testable import SVDPipeline

/// The whole pipeline from `input.png` against diffusers' reference cases, every stored intermediate included.
final class PipelineParityTests: XCTestCase {
    struct CaseSpec: Decodable {
        let height, width, num_frames, num_inference_steps, fps, motion_bucket_id, decode_chunk_size, seed: Int
        let min_guidance_scale, max_guidance_scale, noise_aug_strength: Double
    }

    static func parameters(_ name: String) throws -> VideoParameters {
        let c = try JSONDecoder().decode(CaseSpec.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.casePath(name, "case.json"))))
        return VideoParameters(seed: Seed(UInt64(c.seed)), numFrames: c.num_frames, width: c.width, height: c.height,
                               numInferenceSteps: c.num_inference_steps, fps: c.fps, motionBucketId: c.motion_bucket_id,
                               noiseAugStrength: c.noise_aug_strength, minGuidanceScale: c.min_guidance_scale,
                               maxGuidanceScale: c.max_guidance_scale, decodeChunkSize: c.decode_chunk_size)
    }

    /// Runs a case and captures the pipeline-level intermediates.
    static func run(_ name: String) throws -> (VideoFrames, [String: Tensor]) {
        let pipeline = VideoPipeline(model: try DemoModel.load())
        let image = try ImageInput.load(path: Fixtures.casePath(name, "input.png"))
        var captured: [String: Tensor] = [:]
        ActivationTrace.sink = { key, t in
            if key.hasPrefix("latents") || key.hasPrefix("image_") || key.hasPrefix("unet_output") || key == "frames_decoded" {
                captured[key] = t.copy()
            }
        }
        defer { ActivationTrace.sink = nil }
        let frames = try pipeline.render(image: image, parameters: try parameters(name))
        return (frames, captured)
    }

    struct Difference { let maxAbs: Float; let relRMS: Double; let withinLatentBound: Bool }

    static func compare(_ a: Tensor, _ b: Tensor) -> Difference {
        var maxAbs: Float = 0, sq = 0.0, ref = 0.0, ok = true
        for i in 0..<b.count {
            let x = a.scalar(i), y = b.scalar(i), d = abs(x - y)
            maxAbs = max(maxAbs, d)
            sq += Double(d * d)
            ref += Double(y * y)
            if d > 1e-3 + 1e-5 * abs(y) { ok = false }
        }
        return Difference(maxAbs: maxAbs, relRMS: (sq / max(ref, 1e-30)).squareRoot(), withinLatentBound: ok)
    }

    func checkCase(_ name: String) throws {
        let (frames, got) = try Self.run(name)
        let ref = try SafeTensorsFile(path: Fixtures.casePath(name, "intermediates.safetensors"))
        let p = try Self.parameters(name)
        func row(_ t: Tensor, _ r: Int) -> Tensor { t.slice(first: r, 1) }
        var report: [String] = []

        // Per-stage bounds leave ~10-20x headroom over the differences measured at each stage; the
        // image latents include torch's channels-last kernel choice (3.2e-5 on its own).
        let emb = Self.compare(row(got["image_embeddings"]!, 1), row(try ref.tensor("image_embeddings"), 1))
        XCTAssertLessThanOrEqual(emb.maxAbs, 1e-5, "\(name) image_embeddings")
        let lat = Self.compare(row(got["image_latents"]!, 1), row(try ref.tensor("image_latents"), 1))
        XCTAssertLessThanOrEqual(lat.maxAbs, 3e-4, "\(name) image_latents")
        XCTAssertEqual(got["latents_init"]!.array, try ref.tensor("latents_init").array, "\(name) latents_init must be bit-exact")
        // End to end the UNet input carries the image-latent difference, hence 2e-4 rather than the 5e-5 of an
        // isolated step (an independent NumPy implementation of the pipeline lands at 3.0e-5 here).
        let u0 = Self.compare(got["unet_output_step0"]!, try ref.tensor("unet_output_step0"))
        XCTAssertLessThanOrEqual(u0.maxAbs, 2e-4, "\(name) unet_output_step0")
        report.append(String(format: "embeddings %.2g, image_latents %.2g, unet0 %.2g", emb.maxAbs, lat.maxAbs, u0.maxAbs))
        for i in 0..<p.numInferenceSteps {
            let d = Self.compare(got["latents_step\(i)"]!, try ref.tensor("latents_step\(i)"))
            XCTAssertTrue(d.withinLatentBound, "\(name) latents_step\(i): max abs \(d.maxAbs)")
            XCTAssertLessThanOrEqual(d.relRMS, 1e-4, "\(name) latents_step\(i)")
            report.append(String(format: "step%d %.2g/%.2g", i, d.maxAbs, d.relRMS))
        }
        // Raw decoder output at the stored frame indices.
        let decoded = got["frames_decoded"]!
        let indices = try ref.bytes("frames_decoded_indices").withUnsafeBytes { raw in
            (0..<(raw.count / 8)).map { Int(raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        }
        let refDecoded = try ref.tensor("frames_decoded")
        for (k, f) in indices.enumerated() {
            let d = Self.compare(row(decoded, f), row(refDecoded, k))
            XCTAssertLessThanOrEqual(d.maxAbs, 2e-3, "\(name) frames_decoded[\(f)]")
            report.append(String(format: "decoded[%d] %.2g", f, d.maxAbs))
        }
        // Final uint8 frames: PSNR ≥ 70 dB, no value off by more than 2, at most 1 % of values differing.
        let refFrames = try SafeTensorsFile(path: Fixtures.casePath(name, "frames.safetensors")).bytes("frames")
        XCTAssertEqual(frames.rgb.count, refFrames.count)
        var maxDiff = 0, differing = 0, sq = 0.0
        for (a, b) in zip(frames.rgb, refFrames) {
            let d = abs(Int(a) - Int(b))
            maxDiff = max(maxDiff, d)
            if d != 0 { differing += 1 }
            sq += Double(d * d)
        }
        let mse = sq / Double(refFrames.count)
        let psnr = mse == 0 ? Double.infinity : 10 * log10(255 * 255 / mse)
        let fraction = Double(differing) / Double(refFrames.count)
        XCTAssertGreaterThanOrEqual(psnr, 70, "\(name) PSNR")
        XCTAssertLessThanOrEqual(maxDiff, 2, "\(name) max abs")
        XCTAssertLessThanOrEqual(fraction, 0.01, "\(name) differing fraction")
        print("parity \(name): frames PSNR \(String(format: "%.2f", psnr)) dB, max \(maxDiff), differing \(String(format: "%.4f", fraction * 100)) %; " + report.joined(separator: ", "))
    }

    func testBasicCase() throws { try checkCase("basic") }
    func testResizeChunkedCase() throws { try checkCase("resize-chunked") }

    /// Same inputs give the same frames run after run, whatever the worker count.
    func testFramesIdenticalAcrossRerunsAndThreadCounts() throws {
        let saved = Parallel.workerCount
        defer { Parallel.workerCount = saved }
        let pipeline = VideoPipeline(model: try DemoModel.load())
        let image = try ImageInput.load(path: Fixtures.casePath("resize-chunked", "input.png"))
        var p = try Self.parameters("resize-chunked")
        p.numInferenceSteps = 2
        var results: [[UInt8]] = []
        for workers in [1, 2, 2, 8] {
            Parallel.workerCount = workers
            results.append(try pipeline.render(image: image, parameters: p).rgb)
        }
        for r in results.dropFirst() { XCTAssertTrue(r == results[0], "frames differ between runs / worker counts") }
    }
}
