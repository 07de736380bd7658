import Foundation
import BatchTestSupport
import SVDCore
import TestSupport
import XCTest

/// Golden frames: the sample batch and both reference cases, rendered by the `svdbatch` executable exactly as a
/// user runs it, give the frames_sha256 committed in Tests/Fixtures/golden-frames.json. Those values are the
/// same on every AVX2 + FMA machine, so a failure here means the engine's arithmetic changed (every clip users
/// have would stop verifying) or a machine-dependent operation slipped in.
final class GoldenFramesCommandTests: XCTestCase {
    func testSampleBatchAndReferenceCasesGiveTheGoldenFrames() throws {
        guard (try? SVDBatchBinary.url()) != nil else {
            return XCTFail("the svdbatch executable is not built next to the tests: the golden frames cannot be checked")
        }
        let ws = try Workspace()
        let model = Fixtures.demoModel.path
        let samples = try SVDBatchBinary.run([Fixtures.root.appendingPathComponent("Samples/jobs.csv").path, "--out", ws.url("samples").path,
                                              "--model", model], in: ws.root, log: ws.url("samples.log"))
        XCTAssertEqual(samples, 0, (try? String(contentsOf: ws.url("samples.log"), encoding: .utf8)) ?? "")
        try ws.csv("cases.csv", GoldenFrames.casesCSV())
        let cases = try SVDBatchBinary.run(["cases.csv", "--out", "cases", "--model", model], in: ws.root, log: ws.url("cases.log"))
        XCTAssertEqual(cases, 0, (try? String(contentsOf: ws.url("cases.log"), encoding: .utf8)) ?? "")

        for (folder, expected) in [("samples", GoldenFrames.expected.samples), ("cases", GoldenFrames.expected.cases)] {
            for (clip, sha) in expected.sorted(by: { $0.key < $1.key }) {
                let recipe = try ws.recipe("\(folder)/\(clip)")
                let d = recipe.diagnostics
                XCTAssertEqual(recipe.framesSHA256, sha, "\(folder)/\(clip) rendered with OpenBLAS \(d.blasVersion ?? "?") \(d.blasCore) kernels on \(d.cpu) (\(d.cpuVectorClass ?? "?"))")
                if CPUFeatures.current.hasAVX2AndFMA { XCTAssertEqual(d.blasCore, BLASKernels.pinnedCore) }
            }
        }
    }
}
