import Foundation
import BatchTestSupport
import SVDCore
import SVDMedia
import TestSupport
import XCTest

/// Golden frames: the sample batch and both reference cases, rendered by the `svdbatch` executable exactly as a
/// user runs it, give the frames_sha256 committed in Tests/Fixtures/golden-frames.json. Those values are the
/// same on every AVX2 + FMA machine, so a failure here means the engine's arithmetic changed (every clip users
/// have would stop verifying) or a machine-dependent operation slipped in.
final class GoldenFramesTests: XCTestCase {
    struct Golden: Decodable {
        let samples: [String: String]
        let cases: [String: String]
    }

    static let golden: Golden = {
        let data = try! Data(contentsOf: Fixtures.directory.appendingPathComponent("golden-frames.json"))
        return try! JSONDecoder().decode(Golden.self, from: data)
    }()

    /// The reference cases as job-list rows, with their parameters from case.json.
    static func casesCSV() throws -> String {
        var rows = ["image,seed,name,width,height,num_frames,num_inference_steps,fps,motion_bucket_id,noise_aug_strength,min_guidance_scale,max_guidance_scale,decode_chunk_size,format"]
        for name in ["basic", "resize-chunked"] {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.casePath(name, "case.json")))) as! [String: Any]
            func value(_ key: String) -> String { "\(json[key]!)" }
            rows.append([Fixtures.casePath(name, "input.png"), value("seed"), name, value("width"), value("height"),
                         value("num_frames"), value("num_inference_steps"), value("fps"), value("motion_bucket_id"),
                         value("noise_aug_strength"), value("min_guidance_scale"), value("max_guidance_scale"),
                         value("decode_chunk_size"), "mkv"].joined(separator: ","))
        }
        return rows.joined(separator: "\n") + "\n"
    }

    func testSampleBatchAndReferenceCasesGiveTheGoldenFrames() throws {
        guard (try? SVDBatchBinary.url()) != nil else {
            return XCTFail("the svdbatch executable is not built next to the tests: the golden frames cannot be checked")
        }
        let ws = try Workspace()
        let model = Fixtures.demoModel.path
        let samples = try SVDBatchBinary.run([Fixtures.root.appendingPathComponent("Samples/jobs.csv").path, "--out", ws.url("samples").path,
                                              "--model", model], in: ws.root, log: ws.url("samples.log"))
        XCTAssertEqual(samples, 0, (try? String(contentsOf: ws.url("samples.log"), encoding: .utf8)) ?? "")
        try ws.csv("cases.csv", Self.casesCSV())
        let cases = try SVDBatchBinary.run(["cases.csv", "--out", "cases", "--model", model], in: ws.root, log: ws.url("cases.log"))
        XCTAssertEqual(cases, 0, (try? String(contentsOf: ws.url("cases.log"), encoding: .utf8)) ?? "")

        for (folder, expected) in [("samples", Self.golden.samples), ("cases", Self.golden.cases)] {
            for (clip, sha) in expected.sorted(by: { $0.key < $1.key }) {
                let recipe = try ws.recipe("\(folder)/\(clip)")
                let d = recipe.diagnostics
                XCTAssertEqual(recipe.framesSHA256, sha, "\(folder)/\(clip) rendered with OpenBLAS \(d.blasVersion ?? "?") \(d.blasCore) kernels on \(d.cpu) (\(d.cpuVectorClass ?? "?"))")
                if CPUFeatures.current.hasAVX2AndFMA { XCTAssertEqual(d.blasCore, BLASKernels.pinnedCore) }
            }
        }
    }

    /// The test process computes as the command line does: the same job rendered in-process (the engine's
    /// kernels chosen by the library, not by a flag of the executable) gives the golden frames too.
    func testInProcessRenderGivesTheGoldenFrames() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.columns + ",fps,format\ncat.png,42,basic,192,128,25,6,7,mkv\n")
        let run = ws.run()
        XCTAssertEqual(run.status, .success, run.messages)
        XCTAssertEqual(try ws.framesSHA("out/basic.mkv"), Self.golden.cases["basic.mkv"])
    }

    /// The demo model as a Stability single-file checkpoint (made by an independent script and checked with
    /// diffusers' conversion code) renders the golden frames of the demo folder.
    func testTheDemoModelAsASingleFileGivesTheGoldenFrames() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.columns + ",fps,format\ncat.png,42,basic,192,128,25,6,7,mkv\n")
        let run = ws.run { $0.model = Fixtures.path("single-file/demo-svd-xt.fp16.safetensors") }
        XCTAssertEqual(run.status, .success, run.messages)
        XCTAssertEqual(try ws.framesSHA("out/basic.mkv"), Self.golden.cases["basic.mkv"])
        XCTAssertEqual(try ws.recipe("out/basic.mkv").model.fingerprint.files.keys.sorted(), ["demo-svd-xt.fp16.safetensors"])
    }
}
