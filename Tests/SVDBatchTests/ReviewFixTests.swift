import Foundation
import SVDBatch
import SVDCore
import SVDMedia
import TestSupport
import XCTest

/// Limits of row values, the job list's folder, --save-frames folders, and rerender's encoder settings, lock
/// and exit statuses.
final class ReviewFixTests: XCTestCase {
    // MARK: Row limits

    func testOutOfRangeValuesAreRejectedWithLineNumbersAndNeverTrap() throws {
        let ws = try Workspace()
        try ws.csv("""
            image,seed,name,width,height,num_frames,num_inference_steps,fps,decode_chunk_size,motion_bucket_id,noise_aug_strength,min_guidance_scale,max_guidance_scale
            cat.png,1,ok,64,64,3,2,,,,,,
            cat.png,2,w,100000,64,3,2,,,,,,
            cat.png,3,h,64,4611686018427387904,3,2,,,,,,
            cat.png,4,f,64,64,1025,2,,,,,,
            cat.png,5,s,64,64,3,10001,,,,,,
            cat.png,6,fps,64,64,3,2,1001,,,,,
            cat.png,7,c,64,64,3,2,,1025,,,,
            cat.png,8,b,64,64,3,2,,,1000001,,,
            cat.png,9,n,64,64,3,2,,,,1e39,,
            cat.png,10,n2,64,64,3,2,,,,11,,
            cat.png,11,g,64,64,3,2,,,,,1e39,1e39
            cat.png,12,g2,64,64,3,2,,,,,1,101
            cat.png,13,big,64,64,9223372036854775807,9223372036854775807,,,,,,

            """)
        let dry = ws.run { $0.dryRun = true }
        let plan = try XCTUnwrap(dry.result.plan, dry.messages)
        XCTAssertEqual(plan.jobs.map(\.spec.name), ["ok"])
        XCTAssertEqual(plan.rejected.map(\.line), Array(3...14))
        for (line, words) in [(3, "width 100000 must be at most 16384"), (4, "height 4611686018427387904 must be at most 16384"),
                              (5, "num_frames 1025 must be at most 1024"), (6, "num_inference_steps 10001 must be at most 10000"),
                              (7, "fps 1001 must be at most 1000"), (8, "decode_chunk_size 1025 must be at most 1024"),
                              (9, "motion_bucket_id 1000001 must be at most 1000000"),
                              (10, "noise_aug_strength '1e39' is not a finite number"), (11, "noise_aug_strength 11 must be at most 10"),
                              (12, "min_guidance_scale '1e39' is not a finite number"), (13, "max_guidance_scale 101 must be at most 100"),
                              (14, "num_frames 9223372036854775807 must be at most 1024")] {
            let text = dry.messages + dry.output
            XCTAssertTrue(text.contains("\(line)") && text.contains(words), "line \(line) should be reported with '\(words)':\n\(text)")
        }
        // The real run renders the good row and survives the others.
        let run = ws.run()
        XCTAssertEqual(run.status, .jobsFailed, run.messages)
        XCTAssertTrue(run.messages.contains("jobs.csv:3: ") && run.messages.contains("width 100000 must be at most 16384"), run.messages)
        XCTAssertEqual(run.result.entries.filter { $0.status == .rendered }.map(\.name), ["ok"])
    }

    // MARK: Job list path

    func testARelativeJobListIsReadFromTheWorkingDirectoryNotTheProcessCwd() throws {
        let ws = try Workspace()
        try FileManager.default.createDirectory(at: ws.url("lists"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: ws.url("cat.png"), to: ws.url("lists/cat.png"))
        try ws.csv("lists/jobs.csv", Tiny.csv([Tiny.row(seed: "1")]))
        XCTAssertNotEqual(FileManager.default.currentDirectoryPath, ws.root.path)
        var options = BatchOptions(csvPath: "lists/jobs.csv", workingDirectory: ws.root, environment: Workspace.environment)
        options.outputDirectory = "out"
        options.dryRun = true
        let messages = BufferSink(), output = BufferSink()
        let result = Batch.run(options, console: BatchConsole(output: output, messages: messages, messagesAreTerminal: false))
        XCTAssertEqual(result.status, .success, messages.text)
        XCTAssertEqual(result.plan?.jobs.map(\.spec.name), ["cat-s1"])
        XCTAssertEqual(result.plan?.csvPath, ws.url("lists/jobs.csv").standardizedFileURL.path)
    }

    // MARK: --save-frames

    func testAFramesFolderTheJobDidNotWriteIsAConflictUnlessForce() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1"), Tiny.row(seed: "2")]))
        // Someone else's folder (with a stale frame_0014.png) and a file under the frames folder's name.
        try FileManager.default.createDirectory(at: ws.url("out/cat-s1_frames"), withIntermediateDirectories: true)
        try Data("old".utf8).write(to: ws.url("out/cat-s1_frames/frame_0014.png"))
        try Data("notes".utf8).write(to: ws.url("out/cat-s2_frames"))

        let dry = ws.run { $0.saveFrames = true; $0.dryRun = true }
        XCTAssertEqual(dry.status, .jobsFailed, dry.output)
        XCTAssertEqual(dry.result.plan?.jobs.map(\.decision.label), ["conflict", "conflict"])
        XCTAssertTrue(dry.output.contains("cat-s1_frames") && dry.output.contains("cat-s2_frames"), dry.output)

        let blocked = ws.run { $0.saveFrames = true }
        XCTAssertEqual(blocked.status, .jobsFailed)
        XCTAssertEqual(blocked.result.entries.map(\.status), [.conflict, .conflict])
        XCTAssertEqual(ws.files(in: "out/cat-s1_frames"), ["frame_0014.png"], "left alone")
        XCTAssertEqual(try String(contentsOf: ws.url("out/cat-s2_frames"), encoding: .utf8), "notes")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("out/cat-s1.mp4").path))

        // Without --save-frames the folders are not in the way.
        try ws.csv("other.csv", Tiny.csv([Tiny.row(seed: "1")]))
        XCTAssertEqual(ws.run("other.csv", out: "plain").status, .success)

        let forced = ws.run { $0.saveFrames = true; $0.force = true }
        XCTAssertEqual(forced.status, .success, forced.messages)
        for name in ["cat-s1", "cat-s2"] {
            XCTAssertEqual(ws.visibleFiles(in: "out/\(name)_frames"), ["frame_0000.png", "frame_0001.png", "frame_0002.png"],
                           "replaced whole, no stale frames")
        }
        XCTAssertFalse(ws.files(in: "out").contains { $0.contains(".tmp-") }, "\(ws.files(in: "out"))")

        // The job's own folder is replaced on a new render without --force (the clip was removed).
        try FileManager.default.removeItem(at: ws.url("out/cat-s1.mp4"))
        try Data("stale".utf8).write(to: ws.url("out/cat-s1_frames/frame_0014.png"))
        let own = ws.run { $0.saveFrames = true }
        XCTAssertEqual(own.status, .success, own.messages)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: own.result.entries.map { ($0.name ?? "", $0.status) }),
                       ["cat-s1": .rendered, "cat-s2": .upToDate])
        XCTAssertEqual(ws.visibleFiles(in: "out/cat-s1_frames"), ["frame_0000.png", "frame_0001.png", "frame_0002.png"])

        // A folder of another job (different seed, same name) is a conflict again.
        try FileManager.default.removeItem(at: ws.url("out/cat-s1.mp4"))
        try ws.csv(Tiny.csv([Tiny.row(seed: "3", name: "cat-s1")]))
        let other = ws.run { $0.saveFrames = true }
        XCTAssertEqual(other.result.entries.map(\.status), [.conflict], other.messages)
        XCTAssertTrue(other.messages.contains("different job"), other.messages)
    }

    func testLeftoverTemporaryFramesFoldersAreRemoved() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        for folder in ["out/.cat-s1_frames.tmp-99999", "out/.cat-s1_frames.old.tmp-99999", "out/.other_frames.tmp-5"] {
            try FileManager.default.createDirectory(at: ws.url(folder), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: ws.url(folder + "/frame_0000.png"))
        }
        XCTAssertEqual(ws.run { $0.saveFrames = true }.status, .success)
        XCTAssertEqual(ws.files(in: "out").filter { $0.contains(".tmp-") }, [".other_frames.tmp-5"])
    }

    // MARK: exit statuses

    func testCRFOutsideTheFormatsRangeIsAUsageError() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        let log = ws.url("crf.txt")
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--crf", "60", "--dry-run"], in: ws.root, log: log), 2)
        XCTAssertTrue(try String(contentsOf: log, encoding: .utf8).contains("--crf 60 is outside 0–51"))
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--crf", "60", "--format", "webm", "--dry-run"], in: ws.root, log: log), 0)
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--crf", "64", "--format", "webm", "--dry-run"], in: ws.root, log: log), 2)
    }

    // MARK: rerender

    private func rerender(_ ws: Workspace, _ clip: String, configure: (inout RerenderOptions) -> Void = { _ in })
        -> (result: RerenderResult, messages: String) {
        var options = RerenderOptions(clipPath: clip, workingDirectory: ws.root, environment: Workspace.environment)
        configure(&options)
        let messages = BufferSink(), output = BufferSink()
        let result = Rerender.run(options, console: BatchConsole(output: output, messages: messages, messagesAreTerminal: false))
        return (result, messages.text + output.text)
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
