import Foundation
import BatchTestSupport
import SVDBatch
import SVDCore
import SVDMedia
import TestSupport
import XCTest

/// `Rerender.run` in-process, on the demo model, tiny jobs: refusals, the run lock, stop and resume (the command line
/// is tested in CLITests/RerenderCommandTests).
final class RerenderTests: XCTestCase {
    private func rerender(_ ws: Workspace, _ clip: String, configure: (inout RerenderOptions) -> Void = { _ in })
        -> (result: RerenderResult, messages: String) {
        var options = RerenderOptions(clipPath: clip, workingDirectory: ws.root, environment: Workspace.environment)
        configure(&options)
        let messages = BufferSink(), output = BufferSink()
        let result = Rerender.run(options, console: BatchConsole(output: output, messages: messages, messagesAreTerminal: false))
        return (result, messages.text + output.text)
    }

    /// A rerender that writes a clip runs the same job step as `run`: stopped after a step it keeps the
    /// checkpoint, the same command resumes from it and writes the clip an uninterrupted rerender writes, and
    /// the folder's manifest gets the job's lines. A dry run writes nothing; `--verify` alone writes nothing
    /// either, not even a manifest line.
    func testAStoppedRerenderResumesToTheSameClipWithManifestLines() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "42", steps: 3)]))
        XCTAssertEqual(ws.run().status, .success)
        let clip = "out/cat-s42.mp4"
        let varied = "out/cat-s42-motion_bucket_id90.mp4"

        let plan = rerender(ws, clip) { $0.set = ["motion_bucket_id=90"]; $0.dryRun = true }
        XCTAssertEqual(plan.result.status, .success, plan.messages)
        XCTAssertTrue(plan.messages.contains("render") && plan.messages.contains(ws.url(varied).path), plan.messages)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url(varied).path))

        // Stopped after the first step, as by SIGINT.
        let stop = StopFlag()
        let messages = StopWhenRenderingStarts(stop), output = BufferSink()
        var options = RerenderOptions(clipPath: clip, workingDirectory: ws.root, environment: Workspace.environment)
        options.set = ["motion_bucket_id=90"]
        let stopped = Rerender.run(options, console: BatchConsole(output: output, messages: messages, messagesAreTerminal: false), stop: stop)
        XCTAssertEqual(stopped.status, .interrupted, messages.text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url(varied).path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: ws.url("out/.cat-s42-motion_bucket_id90.state").path), messages.text)

        let resumed = rerender(ws, clip) { $0.set = ["motion_bucket_id=90"] }
        XCTAssertEqual(resumed.result.status, .success, resumed.messages)
        XCTAssertTrue(resumed.messages.contains("resuming cat-s42-motion_bucket_id90.mp4 from step 1/3"), resumed.messages)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("out/.cat-s42-motion_bucket_id90.state").path))
        let fresh = rerender(ws, clip) { $0.set = ["motion_bucket_id=90"]; $0.outputDirectory = "fresh" }
        XCTAssertEqual(fresh.result.status, .success, fresh.messages)
        XCTAssertEqual(try Data(contentsOf: ws.url(varied)), try Data(contentsOf: ws.url("fresh/cat-s42-motion_bucket_id90.mp4")))
        XCTAssertEqual(try ws.recipe(varied).derivedFrom, try ws.recipe(clip).framesSHA256)

        let lines = try ws.manifest("out").filter { $0.name == "cat-s42-motion_bucket_id90" }
        XCTAssertEqual(lines.map(\.status), [.interrupted, .resumed])
        XCTAssertEqual(lines.map(\.csv), [ws.url(clip).path, ws.url(clip).path])
        let before = try ws.manifest("out").count
        XCTAssertEqual(rerender(ws, clip) { $0.verify = true }.result.status, .success)
        XCTAssertEqual(try ws.manifest("out").count, before, "--verify without --out writes nothing")
    }

    func testRecipesWithNonStandardEncoderOptionsAreRefusedWithExit2() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "42")]))
        XCTAssertEqual(ws.run().status, .success)
        let clip = "out/cat-s42.mp4"
        let decoded = try ClipReader.decode(ws.url(clip)).frames
        var recipe = try ws.recipe(clip)
        // As an edited comment could say: an x264 option that writes a file.
        recipe.encoder.codecOptions["stats"] = ws.url("written-by-ffmpeg.log").path
        try FileManager.default.createDirectory(at: ws.url("edited"), withIntermediateDirectories: true)
        try ClipWriter.write(decoded, fps: 7, settings: try EncoderSettings.standard(.mp4), comment: try recipe.json(),
                             to: ws.url("edited/cat-s42.mp4"))
        for configure in [{ (o: inout RerenderOptions) in o.verify = true }, { (o: inout RerenderOptions) in o.outputDirectory = "copy" }] {
            let run = rerender(ws, "edited/cat-s42.mp4", configure: configure)
            XCTAssertEqual(run.result.status, .fatal, run.messages)
            XCTAssertTrue(run.messages.contains("not svdbatch's standard mp4 settings") && run.messages.contains("stats="), run.messages)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("written-by-ffmpeg.log").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("copy/cat-s42.mp4").path))

        // The unedited clip still re-renders.
        let good = rerender(ws, clip) { $0.outputDirectory = "copy" }
        XCTAssertEqual(good.result.status, .success, good.messages)
    }

    func testRerenderTakesTheRunLockAndExits75WhenHeld() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "42")]))
        XCTAssertEqual(ws.run().status, .success)
        try FileManager.default.createDirectory(at: ws.url("copy"), withIntermediateDirectories: true)
        // flock locks belong to the open file description, so a second open in this process conflicts too.
        let lock = try RunLock.acquire(directory: ws.url("copy"), shard: nil)
        let held = rerender(ws, "out/cat-s42.mp4") { $0.outputDirectory = "copy" }
        XCTAssertEqual(held.result.status, .locked, held.messages)
        XCTAssertTrue(held.messages.contains("another svdbatch run"), held.messages)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("copy/cat-s42.mp4").path))
        lock.release()
        XCTAssertEqual(rerender(ws, "out/cat-s42.mp4") { $0.outputDirectory = "copy" }.result.status, .success)
    }
}

/// Messages, and a stop request (as SIGINT) once a render starts: it stops after its first step.
private final class StopWhenRenderingStarts: TextSink, @unchecked Sendable {
    private let stop: StopFlag
    private let buffer = BufferSink()

    init(_ stop: StopFlag) { self.stop = stop }

    func write(_ text: String) {
        buffer.write(text)
        if text.contains("info: rendering ") { stop.request(signal: SIGINT) }
    }

    var text: String { buffer.text }
}
