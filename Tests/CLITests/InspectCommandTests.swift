import Foundation
import BatchTestSupport
import SVDMedia
import TestSupport
import XCTest

/// `svdbatch inspect` as the built executable: the recipe as text and as JSON, and the exit status and message
/// for clips without a recipe (1) and files that are not readable clips (2).
final class InspectCommandTests: XCTestCase {
    private func inspect(_ arguments: [String], in directory: URL) throws -> (status: Int32, out: String, err: String) {
        try runProcess(try SVDBatchBinary.url(), ["inspect"] + arguments, in: directory, environment: Workspace.environment)
    }

    func testInspectExitCodes() throws {
        let ws = try Workspace()
        try ws.csv("image,seed,name,width,height,num_frames,num_inference_steps,format\ncat.png,42,good,64,64,3,2,mkv\n")
        XCTAssertEqual(ws.run().status, .success)
        let good = ws.url("out/good.mkv")
        let recipe = try ws.recipe("out/good.mkv")
        var (status, out, err) = try inspect([good.path], in: ws.root)
        XCTAssertEqual(status, 0, err)
        for expected in ["Model", "Input", "Parameters", "Output", "Hashes", "Diagnostics", recipe.jobKey,
                         recipe.model.name, "torch-cpu-mt19937", "ffv1 bgr0 64×64, 3 frames at 7 fps, lossless"] {
            XCTAssertTrue(out.contains(expected), "missing \(expected) in:\n\(out)")
        }
        (status, out, err) = try inspect([good.path, "--json"], in: ws.root)
        XCTAssertEqual(status, 0, err)
        XCTAssertEqual(try Recipe.decode(comment: out, file: "stdout"), recipe)

        let frames = try ClipReader.decode(good).frames
        func write(_ name: String, _ format: ClipFormat, comment: String?) throws -> URL {
            let url = ws.url(name)
            try ClipWriter.write(frames, fps: 7, settings: try EncoderSettings.standard(format), comment: comment, to: url)
            return url
        }
        let bare = try write("bare.mp4", .mp4, comment: nil)
        let foreign = try write("foreign.webm", .webm, comment: "holiday 2024")
        let broken = try write("broken.mkv", .mkv, comment: #"{"svdbatch": 1, "model": 3}"#)
        let data = try Data(contentsOf: try write("whole.mp4", .mp4, comment: try recipe.json()))
        let half = ws.url("half.mp4")
        try data.prefix(data.count / 2).write(to: half)
        let garbage = ws.url("garbage.webm")
        try Data(repeating: 0x5A, count: 3000).write(to: garbage)

        for (url, code) in [(bare, 1), (foreign, 1), (broken, 1), (half, 2), (garbage, 2), (ws.url("nowhere.mp4"), 2)] {
            (status, out, err) = try inspect([url.path], in: ws.root)
            XCTAssertEqual(status, Int32(code), "\(url.lastPathComponent): \(err)")
            XCTAssertTrue(err.contains(url.lastPathComponent), "stderr must name the file: \(err)")
            XCTAssertEqual(out, "", "\(url.lastPathComponent)")
        }
    }
}
