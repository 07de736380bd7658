import Foundation
import BatchTestSupport
import SVDCore
import SVDMedia
import TestSupport
import XCTest

/// Golden frames rendered in-process: the same frames_sha256 as the `svdbatch` executable gives (see
/// CLITests/GoldenFramesCommandTests), from the library and from the demo model as a single file.
final class GoldenFramesTests: XCTestCase {
    /// The test process computes as the command line does: the same job rendered in-process (the engine's
    /// kernels chosen by the library, not by a flag of the executable) gives the golden frames too.
    func testInProcessRenderGivesTheGoldenFrames() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.columns + ",fps,format\ncat.png,42,basic,192,128,25,6,7,mkv\n")
        let run = ws.run()
        XCTAssertEqual(run.status, .success, run.messages)
        XCTAssertEqual(try ws.framesSHA("out/basic.mkv"), GoldenFrames.expected.cases["basic.mkv"])
    }

    /// The demo model as a Stability single-file checkpoint (made by an independent script and checked with
    /// diffusers' conversion code) renders the golden frames of the demo folder.
    func testTheDemoModelAsASingleFileGivesTheGoldenFrames() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.columns + ",fps,format\ncat.png,42,basic,192,128,25,6,7,mkv\n")
        let run = ws.run { $0.model = Fixtures.path("single-file/demo-svd-xt.fp16.safetensors") }
        XCTAssertEqual(run.status, .success, run.messages)
        XCTAssertEqual(try ws.framesSHA("out/basic.mkv"), GoldenFrames.expected.cases["basic.mkv"])
        XCTAssertEqual(try ws.recipe("out/basic.mkv").model.fingerprint.files.keys.sorted(), ["demo-svd-xt.fp16.safetensors"])
    }
}
