import Foundation
import BatchTestSupport
import SVDBatch
import SVDCore
import SVDMedia
import SVDPipeline
import TestSupport
import XCTest

/// End-to-end runs on the demo model, in-process, with tiny jobs (64×64, 3 frames, 2 steps).
final class BatchRunTests: XCTestCase {
    func testGoodAndBadRowsGiveClipsErrorsWithLineNumbersManifestAndStatus1() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([
            Tiny.row(seed: "42"),                                             // 2: good
            Tiny.row("missing.png", seed: "1"),                               // 3: image missing
            Tiny.row(seed: "abc"),                                            // 4: bad seed
            "cat.png,7,,100,64,3,2",                                          // 5: bad width
            Tiny.row(seed: "8", name: "../escape"),                           // 6: traversal
            Tiny.row("coffee.png", seed: "-9223372036854775808"),             // 7: good, seed −2^63
            Tiny.row(seed: "18446744073709551616"),                           // 8: seed 2^64
            Tiny.row(seed: "18446744073709551615"),                           // 9: good, seed 2^64−1
            Tiny.row(seed: "9", name: ".hidden"),                             // 10: hidden name
            Tiny.row(seed: ""),                                               // 11: empty seed
        ]))
        let run = ws.run()
        XCTAssertEqual(run.status, .jobsFailed)
        XCTAssertEqual(ws.visibleFiles(in: "out"), ["cat-s18446744073709551615.mp4", "cat-s42.mp4",
                                                    "coffee-s-9223372036854775808.mp4", "manifest.jsonl"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("escape.mp4").path))
        XCTAssertFalse(ws.files(in: "out").contains { $0.contains(".tmp-") })

        for (line, words) in [(3, "missing.png"), (4, "seed 'abc'"), (5, "width 100"), (6, "name '../escape'"),
                              (8, "seed '18446744073709551616'"), (10, "name '.hidden'"), (11, "seed is empty")] {
            XCTAssertTrue(run.messages.contains("jobs.csv:\(line): ") && run.messages.contains(words),
                          "line \(line) should be reported with '\(words)':\n\(run.messages)")
        }
        let entries = try ws.manifest()
        XCTAssertEqual(entries.count, 10)
        let byLine = Dictionary(uniqueKeysWithValues: entries.map { ($0.line, $0) })
        XCTAssertEqual(Set(entries.filter { $0.status == .rendered }.map(\.line)), [2, 7, 9])
        XCTAssertEqual(Set(entries.filter { $0.status == .failed }.map(\.line)), [3, 4, 5, 6, 8, 10, 11])
        XCTAssertEqual(byLine[2]?.name, "cat-s42")
        XCTAssertEqual(byLine[2]?.output, ws.url("out/cat-s42.mp4").standardizedFileURL.path)
        XCTAssertEqual(byLine[2]?.csv, ws.url("jobs.csv").standardizedFileURL.path)
        XCTAssertNil(byLine[2]?.error)
        XCTAssertEqual(byLine[2]?.jobKey, try ws.recipe("out/cat-s42.mp4").jobKey)
        XCTAssertNotNil(byLine[4]?.error)
        XCTAssertNil(byLine[4]?.jobKey)

        // Every manifest line carries every key, in the documented order.
        let firstLine = try String(contentsOf: ws.url("out/manifest.jsonl"), encoding: .utf8).split(separator: "\n")[0]
        let keys = ["time", "csv", "line", "name", "output", "status", "seconds", "job_key", "error"]
        let positions = keys.map { firstLine.range(of: "\"\($0)\":")?.lowerBound }
        XCTAssertFalse(positions.contains(nil), String(firstLine))
        XCTAssertEqual(positions.compactMap { $0 }, positions.compactMap { $0 }.sorted(), String(firstLine))

        let recipe = try ws.recipe("out/coffee-s-9223372036854775808.mp4")
        XCTAssertEqual(recipe.parameters.video.seed.text, "-9223372036854775808")
        XCTAssertEqual(recipe.parameters.generatorSeed, 0)
        XCTAssertEqual(try ws.recipe("out/cat-s18446744073709551615.mp4").parameters.generatorSeed, UInt32.max)
        XCTAssertEqual(recipe.parameters.video.numFrames, 3)
        XCTAssertEqual(recipe.parameters.video.decodeChunkSize, 3, "decode_chunk_size defaults to num_frames")
        XCTAssertEqual(recipe.parameters.video.fps, 7)
        XCTAssertEqual(recipe.input.name, "coffee.png")
    }

    func testRerunSkipsAndConflictsAreLeftAloneUnlessForce() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1"), Tiny.row(seed: "2")]))
        XCTAssertEqual(ws.run().status, .success)
        let original2 = try Data(contentsOf: ws.url("out/cat-s2.mp4"))

        let rerun = ws.run()
        XCTAssertEqual(rerun.status, .success)
        XCTAssertEqual(rerun.result.entries.map(\.status), [.upToDate, .upToDate], rerun.messages)
        XCTAssertEqual(try Data(contentsOf: ws.url("out/cat-s2.mp4")), original2)

        // Another job's clip under this job's name is stale: rendered again, saying what changed. A file that
        // is not an svdbatch clip is someone else's: a conflict, left alone.
        try original2.write(to: ws.url("out/cat-s1.mp4"))
        try Data("my notes".utf8).write(to: ws.url("out/cat-s2.mp4"))
        let stale = ws.run()
        XCTAssertEqual(stale.status, .jobsFailed)
        let byName = Dictionary(uniqueKeysWithValues: stale.result.entries.map { ($0.name ?? "", $0) })
        XCTAssertEqual(byName["cat-s1"]?.status, .rendered, stale.messages)
        XCTAssertEqual(byName["cat-s2"]?.status, .conflict, stale.messages)
        XCTAssertTrue(stale.messages.contains("replacing \(ws.url("out/cat-s1.mp4").path): stale: seed 2→1"), stale.messages)
        XCTAssertEqual(byName["cat-s1"]?.replaced, "stale: seed 2→1")
        XCTAssertEqual(try ws.recipe("out/cat-s1.mp4").parameters.video.seed.description, "1")
        XCTAssertEqual(try Data(contentsOf: ws.url("out/cat-s2.mp4")), Data("my notes".utf8), "a conflict is left alone")

        // --force replaces the conflict and renders up-to-date clips again, byte for byte the same.
        let original1 = try Data(contentsOf: ws.url("out/cat-s1.mp4"))
        let forced = ws.run { $0.force = true }
        XCTAssertEqual(forced.status, .success, forced.messages)
        XCTAssertEqual(forced.result.entries.map(\.status), [.rendered, .rendered])
        XCTAssertEqual(forced.result.entries.first?.replaced, "--force: the clip is up to date; rendered again")
        XCTAssertTrue(forced.result.entries.last?.replaced?.hasPrefix("--force: \(ws.url("out/cat-s2.mp4").path) exists but is not an svdbatch clip") == true,
                      "\(forced.result.entries)")
        XCTAssertEqual(try Data(contentsOf: ws.url("out/cat-s1.mp4")), original1, "renders are reproducible byte for byte")
        XCTAssertEqual(try Data(contentsOf: ws.url("out/cat-s2.mp4")), original2)
        for job in forced.result.plan!.jobs {
            XCTAssertEqual(try ws.recipe("out/\(job.spec.outputFileName)").jobKey, job.jobKey)
        }
        XCTAssertEqual(ws.run().result.entries.map(\.status), [.upToDate, .upToDate])
        XCTAssertEqual(try ws.manifest().count, 10, "one line per job per run")
    }

    /// An edited row (a named one and an unnamed one) re-renders its clip; the manifest says what changed.
    func testEditedRowsReplaceTheirStaleClips() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.columns + ",motion_bucket_id\n" + Tiny.row(seed: "1", name: "named") + ",\n" + Tiny.row(seed: "5") + ",\n")
        XCTAssertEqual(ws.run().status, .success)
        try ws.csv(Tiny.columns + ",motion_bucket_id\n" + Tiny.row(seed: "101", name: "named") + ",\n" + Tiny.row(seed: "5") + ",60\n")
        let dry = ws.run { $0.dryRun = true }
        XCTAssertTrue(dry.output.contains("stale: seed 1→101") && dry.output.contains("stale: motion_bucket_id 127→60"), dry.output)
        let edited = ws.run()
        XCTAssertEqual(edited.status, .success, edited.messages)
        XCTAssertEqual(try ws.manifest().suffix(2).map(\.replaced), ["stale: seed 1→101", "stale: motion_bucket_id 127→60"])
        XCTAssertEqual(try ws.recipe("out/named.mp4").parameters.video.seed.description, "101")
        XCTAssertEqual(try ws.recipe("out/cat-s5.mp4").parameters.video.motionBucketId, 60)
        XCTAssertEqual(ws.run().result.entries.map(\.status), [.upToDate, .upToDate])
    }

    func testUnreadableListUnknownColumnAndMissingDefaultModelAreFatal() throws {
        let ws = try Workspace()
        try ws.csv("image,seed,motion\ncat.png,1,3\n")
        let unknown = ws.run()
        XCTAssertEqual(unknown.status, .fatal)
        XCTAssertTrue(unknown.messages.contains("'motion'") && unknown.messages.contains("motion_bucket_id"), unknown.messages)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("out/manifest.jsonl").path))

        XCTAssertEqual(ws.run("nope.csv").status, .fatal)

        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        let noModel = ws.run { $0.environment["SVDBATCH_MODEL"] = "/nonexistent/model" }
        XCTAssertEqual(noModel.status, .fatal)
        XCTAssertTrue(noModel.messages.contains("/nonexistent/model"), noModel.messages)
        XCTAssertEqual(ws.run { $0.model = "no-such/model" }.status, .fatal)

        // A row naming a model that cannot be found fails that row only.
        try ws.csv(Tiny.columns + ",model\n" + Tiny.row(seed: "1") + ",\n" + Tiny.row(seed: "2") + ",nowhere/model\n")
        let rowModel = ws.run()
        XCTAssertEqual(rowModel.status, .jobsFailed)
        XCTAssertEqual(rowModel.result.entries.map(\.status), [.failed, .rendered])
        XCTAssertTrue(rowModel.messages.contains("jobs.csv:3: model: model 'nowhere/model' is not a folder here"), rowModel.messages)

        let quiet = ws.run { $0.quiet = true }
        XCTAssertEqual(quiet.result.entries.map(\.status), [.failed, .upToDate])
        let lines = quiet.messages.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, quiet.messages)
        XCTAssertTrue(lines.allSatisfy { $0.contains(" error: ") }, "--quiet prints errors only:\n\(quiet.messages)")
    }

    /// A FIFO (or any non-regular file) named as an image, a job list or a model is refused at once, without
    /// opening it for a read that would wait for a writer; the other rows render.
    func testFIFOsAndDirectoriesAreRefusedWithoutWaiting() throws {
        let ws = try Workspace()
        XCTAssertEqual(mkfifo(ws.url("fifo.png").path, 0o600), 0)
        XCTAssertEqual(mkfifo(ws.url("fifo.csv").path, 0o600), 0)
        XCTAssertEqual(mkfifo(ws.url("svd_xt.safetensors").path, 0o600), 0)
        try FileManager.default.createDirectory(at: ws.url("folder.png"), withIntermediateDirectories: true)
        try ws.csv(Tiny.csv([Tiny.row("fifo.png", seed: "1"), Tiny.row("folder.png", seed: "2"), Tiny.row(seed: "3")]))
        let dry = ws.run { $0.dryRun = true }
        XCTAssertEqual(dry.status, .jobsFailed, dry.messages)
        let run = ws.run()
        XCTAssertEqual(run.status, .jobsFailed, run.messages)
        XCTAssertEqual(run.result.entries.map(\.status), [.failed, .failed, .rendered], run.messages)
        XCTAssertTrue(run.messages.contains("jobs.csv:2: ") && run.messages.contains("not a regular file (a FIFO)"), run.messages)
        XCTAssertTrue(run.messages.contains("jobs.csv:3: "), run.messages)

        let list = ws.run("fifo.csv")
        XCTAssertEqual(list.status, .fatal)
        XCTAssertTrue(list.messages.contains("fifo.csv") && list.messages.contains("a FIFO"), list.messages)
        let model = ws.run { $0.model = "svd_xt.safetensors" }
        XCTAssertEqual(model.status, .fatal)
        XCTAssertTrue(model.messages.contains("not a regular file"), model.messages)
    }

    func testJobsAreRenderedGroupedByModelInCSVOrderWithinAGroup() throws {
        let ws = try Workspace()
        try FileManager.default.copyItem(at: Fixtures.demoModel, to: ws.url("other-model"))
        try ws.csv(Tiny.columns + ",model\n"
            + Tiny.row(seed: "1") + ",\n"
            + Tiny.row(seed: "2") + ",other-model\n"
            + Tiny.row(seed: "3") + ",\n"
            + Tiny.row(seed: "4") + ",other-model\n")
        let run = ws.run()
        XCTAssertEqual(run.status, .success, run.messages)
        XCTAssertEqual(run.result.entries.map(\.line), [2, 4, 3, 5])
        XCTAssertEqual(run.messages.components(separatedBy: "loading model").count - 1, 2, "each model is loaded once")
        XCTAssertEqual(try ws.recipe("out/cat-s2.mp4").model.name, "other-model")
        // Same files, same fingerprint: the model's location is not part of the job key.
        XCTAssertEqual(try ws.recipe("out/cat-s2.mp4").model.fingerprint, try ws.recipe("out/cat-s1.mp4").model.fingerprint)
    }

    func testFramesDoNotDependOnOtherRowsOrderOrThreads() throws {
        let ws = try Workspace()
        try ws.csv("a.csv", Tiny.csv([Tiny.row(seed: "11", name: "x"), Tiny.row("coffee.png", seed: "12", name: "y")]))
        try ws.csv("b.csv", Tiny.csv([Tiny.row(seed: "13", name: "z", frames: 4), Tiny.row("coffee.png", seed: "12", name: "y"),
                                     Tiny.row(seed: "11", name: "x")]))
        XCTAssertEqual(ws.run("a.csv", out: "a") { $0.threads = 2 }.status, .success)
        XCTAssertEqual(ws.run("b.csv", out: "b") { $0.threads = 1 }.status, .success)
        Parallel.workerCount = ProcessInfo.processInfo.activeProcessorCount
        for name in ["x", "y"] {
            XCTAssertEqual(try ws.framesSHA("a/\(name).mp4"), try ws.framesSHA("b/\(name).mp4"), name)
        }
        // The thread count is not recorded, so even the files are the same bytes.
        XCTAssertNil(try ws.recipe("b/x.mp4").diagnostics.threads)
        XCTAssertEqual(try Data(contentsOf: ws.url("a/y.mp4")), try Data(contentsOf: ws.url("b/y.mp4")))
        XCTAssertNotEqual(try ws.framesSHA("a/x.mp4"), try ws.framesSHA("a/y.mp4"))
    }

    func testDryRunShowsEveryDecisionAndRendersNothing() throws {
        let ws = try Workspace()
        try ws.csv("first.csv", Tiny.csv([Tiny.row(seed: "1")]))
        XCTAssertEqual(ws.run("first.csv").status, .success)
        try Data("not mine to overwrite".utf8).write(to: ws.url("out/cat-s2.mp4"))
        try ws.csv(Tiny.csv([Tiny.row(seed: "1"), Tiny.row(seed: "2"), Tiny.row(seed: "3"), Tiny.row(seed: "4"),
                             Tiny.row(seed: "x")]))
        let first = ws.run { $0.dryRun = true }
        let jobs = try XCTUnwrap(first.result.plan?.jobs)
        // A checkpoint of exactly job 3, and a stale one of another job under job 4's name.
        let job3 = try XCTUnwrap(jobs.first { $0.spec.name == "cat-s3" })
        let latents = [Float](repeating: 0, count: 3 * 4 * 8 * 8)
        try CheckpointFile(jobKey: job3.jobKey, totalSteps: 2, checkpoint: .init(stepsDone: 1, latents: latents))
            .write(to: XCTUnwrap(job3.checkpoint))
        try CheckpointFile(jobKey: String(repeating: "0", count: 64), totalSteps: 2, checkpoint: .init(stepsDone: 1, latents: latents))
            .write(to: ws.url("out/.cat-s4.state"))
        let before = ws.files(in: "out")
        let manifestBefore = try Data(contentsOf: ws.url("out/manifest.jsonl"))

        let dry = ws.run { $0.dryRun = true }
        XCTAssertEqual(dry.status, .jobsFailed, "an invalid row or a conflict makes the dry run exit 1")
        let decisions = Dictionary(uniqueKeysWithValues: dry.result.plan!.jobs.map { ($0.spec.name, $0.decision.label) })
        XCTAssertEqual(decisions, ["cat-s1": "skip", "cat-s2": "conflict", "cat-s3": "resume", "cat-s4": "render"])
        for (line, word) in [(2, "skip"), (3, "conflict"), (4, "resume"), (5, "render"), (6, "invalid")] {
            let row = dry.output.split(separator: "\n").first { $0.hasPrefix("line \(line) ") }
            XCTAssertTrue(row?.contains(word) == true, "line \(line) → \(word):\n\(dry.output)")
        }
        XCTAssertTrue(dry.output.contains("from step 1/2"), dry.output)
        XCTAssertTrue(dry.output.contains("different job"), dry.output)
        XCTAssertEqual(ws.files(in: "out"), before, "a dry run writes nothing")
        XCTAssertEqual(try Data(contentsOf: ws.url("out/manifest.jsonl")), manifestBefore)

        // The real run does what the plan said; the stale state of another job is replaced, never resumed.
        let real = ws.run()
        let statuses = Dictionary(uniqueKeysWithValues: real.result.entries.compactMap { e in e.name.map { ($0, e.status) } })
        XCTAssertEqual(statuses, ["cat-s1": .upToDate, "cat-s2": .conflict, "cat-s3": .resumed, "cat-s4": .rendered])
        XCTAssertEqual(ws.files(in: "out").filter { $0.hasSuffix(".state") }, [])

        XCTAssertEqual(ws.run(out: "fresh") { $0.dryRun = true }.status, .jobsFailed)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("fresh").path), "a dry run creates no folder")
    }

    func testSeedEdgeCasesAndNames() throws {
        let ws = try Workspace()
        let seeds = ["-9223372036854775808", "18446744073709551615", "18446744073709551616", "-9223372036854775809",
                     "+5", "007", "-0", "1.5", "0x10", " 12 "]
        try ws.csv(Tiny.csv(seeds.map { Tiny.row(seed: $0) }))
        let dry = ws.run { $0.dryRun = true }
        let plan = try XCTUnwrap(dry.result.plan)
        XCTAssertEqual(plan.jobs.map(\.spec.name), ["cat-s-9223372036854775808", "cat-s18446744073709551615", "cat-s5",
                                                     "cat-s7", "cat-s0", "cat-s12"])
        XCTAssertEqual(plan.rejected.map(\.line), [4, 5, 9, 10])
        XCTAssertEqual(plan.jobs.map { $0.spec.parameters.seed.generatorSeed }, [0, UInt32.max, 5, 7, 0, 12])
    }

    func testRowsWritingTheSameFilesAreAllRejected() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.columns + ",format\n"
            + Tiny.row(seed: "1", name: "same") + ",\n"
            + Tiny.row(seed: "2", name: "same") + ",\n"
            + Tiny.row(seed: "3", name: "clip") + ",mp4\n"
            + Tiny.row(seed: "4", name: "clip") + ",webm\n"
            + Tiny.row(seed: "5") + ",mkv\n")
        let dry = ws.run { $0.dryRun = true }
        let plan = try XCTUnwrap(dry.result.plan)
        XCTAssertEqual(plan.rejected.map(\.line), [2, 3, 4, 5])
        XCTAssertTrue(plan.rejected[0].description.contains("line 3"), plan.rejected[0].description)
        XCTAssertTrue(plan.rejected[2].description.contains("clip.webm"), plan.rejected[2].description)
        XCTAssertEqual(plan.jobs.map(\.spec.outputFileName), ["cat-s5.mkv"])
    }

    func testQuotedBOMCRLFListRendersAndSaveFramesMatchTheLosslessClip() throws {
        let ws = try Workspace()
        try FileManager.default.copyItem(at: ws.url("cat.png"), to: ws.url("my, \"cat\".png"))
        var data = Data([0xEF, 0xBB, 0xBF])
        data.append(Data("image,seed,width,height,num_frames,num_inference_steps,format\r\n\"my, \"\"cat\"\".png\",5,64,64,3,2,MKV\r\n".utf8))
        try data.write(to: ws.url("jobs.csv"))
        let run = ws.run { $0.saveFrames = true }
        XCTAssertEqual(run.status, .success, run.messages)
        let clip = "out/my, \"cat\"-s5.mkv"
        XCTAssertEqual(try ws.recipe(clip).input.name, "my, \"cat\".png")
        XCTAssertEqual(ws.files(in: "out/my, \"cat\"-s5_frames"), [".svdbatch-job", "frame_0000.png", "frame_0001.png", "frame_0002.png"],
                       "the frames, and the hidden file naming the job that wrote them")
        let decoded = try ClipReader.decode(ws.url(clip)).frames
        for (i, frame) in decoded.enumerated() {
            let png = try ImageInput.load(path: ws.url("out/my, \"cat\"-s5_frames/frame_000\(i).png").path)
            XCTAssertEqual(png, frame, "frame \(i)")
        }
        XCTAssertEqual(Digests.sha256Hex(frames: decoded), try ws.framesSHA(clip))
    }

    func testTemporaryFilesOfKilledRunsAreRemovedForThisRunsJobsOnly() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        try FileManager.default.createDirectory(at: ws.url("out/cat-s1_frames"), withIntermediateDirectories: true)
        // pids above the kernel's pid_max (4194304): no process has them.
        let leftovers = ["out/.cat-s1.mp4.tmp-2147483640", "out/..cat-s1.state.tmp-2147483641"]
        let others = ["out/.someone-else.mp4.tmp-5", "out/.notes.tmp-x", "out/cat-s1_frames/keep.txt"]
        for file in leftovers + others { try Data("x".utf8).write(to: ws.url(file)) }
        XCTAssertEqual(ws.run().status, .success)
        for file in leftovers { XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url(file).path), file) }
        for file in others { XCTAssertTrue(FileManager.default.fileExists(atPath: ws.url(file).path), file) }
    }

    func testLockOnTheSameShardIsExclusiveAndOtherShardsOfTheCountAreFree() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        try FileManager.default.createDirectory(at: ws.url("out"), withIntermediateDirectories: true)
        let held = try RunLock.acquire(directory: ws.url("out"), shard: nil)
        let second = ws.run()
        XCTAssertEqual(second.status, .locked)
        XCTAssertTrue(second.messages.contains("another svdbatch run") && second.messages.contains("pid \(getpid())"), second.messages)
        held.release()

        let shard0 = try Shard(index: 0, count: 2), shard1 = try Shard(index: 1, count: 2)
        let lock0 = try RunLock.acquire(directory: ws.url("out"), shard: shard0)
        XCTAssertNoThrow(try RunLock.acquire(directory: ws.url("out"), shard: shard1).release())
        XCTAssertThrowsError(try RunLock.acquire(directory: ws.url("out"), shard: nil), "an unsharded run would render shard 0's clips")
        XCTAssertThrowsError(try RunLock.acquire(directory: ws.url("out"), shard: shard0))
        lock0.release()
    }

    /// A phone photo stored turned (EXIF orientation 6) renders the right way up, and the recipe records the
    /// turned size and the hash of the turned pixels.
    func testPhotosAreTurnedByTheirEXIFOrientation() throws {
        let ws = try Workspace()
        try FileManager.default.copyItem(atPath: Fixtures.path("images/exif/orientation-6.jpg"), toPath: ws.url("phone.jpg").path)
        try ws.csv(Tiny.csv([Tiny.row("phone.jpg", seed: "1", name: "phone")]))
        let run = ws.run()
        XCTAssertEqual(run.status, .success, run.messages)
        let input = try ws.recipe("out/phone.mp4").input
        XCTAssertEqual([input.width, input.height], [8, 12])
        let turned = try ImageInput.load(path: ws.url("phone.jpg").path)
        XCTAssertEqual(input.pixelsSHA256, Digests.sha256Hex(turned.pixels))
        XCTAssertEqual([turned.width, turned.height], [8, 12])
    }

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
            let reported = text.split(separator: "\n").contains { $0.hasPrefix("line \(line) ") && $0.contains(words) }
            XCTAssertTrue(reported, "line \(line) should be reported with '\(words)':\n\(text)")
        }
        // The real run renders the good row and survives the others.
        let run = ws.run()
        XCTAssertEqual(run.status, .jobsFailed, run.messages)
        XCTAssertTrue(run.messages.contains("jobs.csv:3: ") && run.messages.contains("width 100000 must be at most 16384"), run.messages)
        XCTAssertEqual(run.result.entries.filter { $0.status == .rendered }.map(\.name), ["ok"])
    }

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

    /// A job that cannot fit in memory is refused by the plan, so a dry run says so, and the other rows render.
    func testAJobTooLargeForMemoryIsRefusedByTheDryRunToo() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1").replacingOccurrences(of: ",64,64,3,", with: ",4096,4096,64,"), Tiny.row(seed: "2")]))
        let dry = ws.run { $0.dryRun = true }
        XCTAssertEqual(dry.status, .jobsFailed)
        XCTAssertTrue(dry.output.contains("line 2  invalid") && dry.output.contains("of memory beyond the loaded model"), dry.output)
        let run = ws.run()
        XCTAssertEqual(run.result.entries.map(\.status), [.failed, .rendered], run.messages)
    }

    /// A frames folder deleted after the run comes back on a rerun with --save-frames; the clip stays the same.
    func testSaveFramesRecreatesAMissingFramesFolder() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        XCTAssertEqual(ws.run { $0.saveFrames = true }.status, .success)
        let clip = try Data(contentsOf: ws.url("out/cat-s1.mp4"))
        let frames = ws.visibleFiles(in: "out/cat-s1_frames")
        XCTAssertEqual(frames.count, 3)
        try FileManager.default.removeItem(at: ws.url("out/cat-s1_frames"))
        let rerun = ws.run { $0.saveFrames = true }
        XCTAssertEqual(rerun.status, .success, rerun.messages)
        XCTAssertTrue(rerun.messages.contains("cat-s1_frames is missing"), rerun.messages)
        XCTAssertEqual(ws.visibleFiles(in: "out/cat-s1_frames"), frames)
        XCTAssertEqual(try Data(contentsOf: ws.url("out/cat-s1.mp4")), clip)
        // Without --save-frames the clip alone is up to date.
        try FileManager.default.removeItem(at: ws.url("out/cat-s1_frames"))
        XCTAssertEqual(ws.run().result.entries.map(\.status), [.upToDate])
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
}
