import Foundation
import BatchTestSupport
import SVDBatch
import SVDCore
import SVDMedia
import TestSupport
import XCTest

/// The built `svdbatch` executable, run as separate processes: killed, signalled, locked out, sharded.
final class BatchProcessTests: XCTestCase {
    /// Long enough (in steps) to be caught between its first checkpoint and its end.
    static let longSteps = 24
    static let longCSV = Tiny.csv([Tiny.row(seed: "77", name: "long", steps: longSteps, frames: 4)])

    /// frames_sha256 of the long job rendered without interruption, in this test run. Every render these tests
    /// compare is made by the executable, which may pin OpenBLAS's kernels differently from the test process.
    private func uninterruptedFramesSHA(_ ws: Workspace) throws -> String {
        try ws.csv("reference.csv", Self.longCSV)
        XCTAssertEqual(try SVDBatchBinary.run(["reference.csv", "--out", "reference"], in: ws.root, log: ws.url("reference.log")), 0)
        return try ws.framesSHA("reference/long.mp4")
    }

    /// Starts the long job in `out` and returns once its first checkpoint is on disk.
    private func startLongJob(_ ws: Workspace, out: String) throws -> Process {
        try ws.csv("long.csv", Self.longCSV)
        let process = try SVDBatchBinary.start(["long.csv", "--out", out], in: ws.root, log: ws.url("\(out).log"))
        let appeared = waitFor { FileManager.default.fileExists(atPath: ws.url("\(out)/.long.state").path) || !process.isRunning }
        XCTAssertTrue(appeared && process.isRunning, "no checkpoint appeared: " + ((try? String(contentsOf: ws.url("\(out).log"), encoding: .utf8)) ?? ""))
        return process
    }

    func testSIGKILLMidJobResumesFromTheCheckpointWithIdenticalFrames() throws {
        let ws = try Workspace()
        let reference = try uninterruptedFramesSHA(ws)

        let process = try startLongJob(ws, out: "killed")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("killed/long.mp4").path), "no partial clip under the final name")
        let state = try XCTUnwrap(try CheckpointFile.read(ws.url("killed/.long.state")))
        XCTAssertTrue((1..<Self.longSteps).contains(state.checkpoint.stepsDone), "killed mid-job, at step \(state.checkpoint.stepsDone)")

        XCTAssertEqual(try SVDBatchBinary.run(["long.csv", "--out", "killed"], in: ws.root, log: ws.url("resume.log")), 0)
        XCTAssertEqual(try ws.manifest("killed").map(\.status), [.resumed], "the killed run wrote no line; the resumed one says so")
        XCTAssertEqual(try ws.framesSHA("killed/long.mp4"), reference, "a resumed render is bit-identical")
        XCTAssertEqual(ws.files(in: "killed").filter { $0.hasPrefix(".") && $0 != ".svdbatch.lock" }, [],
                       "checkpoint and temporary files are gone after success")
    }

    /// SIGKILL at 30 moments spread over a 4-job batch (seeded, so every run of the test picks the same ones),
    /// each followed by a rerun: never a partial file under a final name, the manifest always whole JSON lines,
    /// and every clip in the end identical, file bytes included, to an uninterrupted run's.
    func testSIGKILLAtThirtyMomentsNeverCostsAClip() throws {
        let ws = try Workspace()
        let rows = [Tiny.row(seed: "1", name: "a", steps: 4), Tiny.row(seed: "2", name: "b", steps: 4),
                    Tiny.row(seed: "3", name: "c", steps: 4), Tiny.row(seed: "4", name: "d", steps: 4)]
        try ws.csv(Tiny.columns + ",format\n" + zip(rows, ["mp4", "webm", "mkv", "mp4"]).map { "\($0),\($1)" }.joined(separator: "\n") + "\n")
        let clips = ["a.mp4", "b.webm", "c.mkv", "d.mp4"]
        // The plan measures this machine's speed once; afterwards every run takes what the reference takes.
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--out", "reference", "--dry-run"], in: ws.root, log: ws.url("plan.log")), 0)
        let started = Date()
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--out", "reference"], in: ws.root, log: ws.url("reference.log")), 0)
        let duration = Date().timeIntervalSince(started)
        let reference = try clips.map { try Data(contentsOf: ws.url("reference/\($0)")) }

        var state: UInt64 = 0x5EED
        func nextFraction() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        var killedMidway = 0
        for trial in 0..<30 {
            let out = "trial-\(trial)"
            let process = try SVDBatchBinary.start(["jobs.csv", "--out", out], in: ws.root, log: ws.url("\(out).log"))
            Thread.sleep(forTimeInterval: duration * (0.05 + 0.95 * nextFraction()))
            if process.isRunning { killedMidway += 1 }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            for (clip, bytes) in zip(clips, reference) where FileManager.default.fileExists(atPath: ws.url("\(out)/\(clip)").path) {
                XCTAssertEqual(try Data(contentsOf: ws.url("\(out)/\(clip)")), bytes, "trial \(trial): \(clip) under its final name is whole")
            }
            if FileManager.default.fileExists(atPath: ws.url("\(out)/manifest.jsonl").path) {
                XCTAssertNoThrow(try ws.manifest(out), "trial \(trial): every manifest line is JSON")
            }

            XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--out", out], in: ws.root, log: ws.url("\(out)-rerun.log")), 0,
                           (try? String(contentsOf: ws.url("\(out)-rerun.log"), encoding: .utf8)) ?? "")
            for (clip, bytes) in zip(clips, reference) {
                XCTAssertEqual(try Data(contentsOf: ws.url("\(out)/\(clip)")), bytes, "trial \(trial): \(clip) after the rerun")
            }
            // Made once, or, when the kill fell between publishing a clip and appending its line (the directory
            // fsync can take milliseconds on a busy disk), found up to date by the rerun: never made twice.
            let entries = try ws.manifest(out)
            for clip in clips {
                let lines = entries.filter { $0.output?.hasSuffix("/\(clip)") == true }
                let made = lines.filter { $0.status == .rendered || $0.status == .resumed }.count
                XCTAssertLessThanOrEqual(made, 1, "trial \(trial): \(clip) recorded as made \(made) times")
                XCTAssertTrue(made == 1 || lines.contains { $0.status == .upToDate }, "trial \(trial): \(clip) recorded")
            }
            XCTAssertEqual(ws.files(in: out).filter { $0.contains(".tmp-") || $0.hasSuffix(".state") }, [], "trial \(trial)")
        }
        XCTAssertGreaterThanOrEqual(killedMidway, 25, "most kills land while the batch runs")
    }

    /// The input photo replaced while the batch runs: each job reads it once, so every clip's recipe names one
    /// version, file hash and pixel hash together, and a clip made from the new photo re-renders from it.
    func testAnInputReplacedMidBatchGivesEachClipOneConsistentVersion() throws {
        let ws = try Workspace()
        try FileManager.default.copyItem(at: ws.url("cat.png"), to: ws.url("input.png"))
        let versions = try ["cat.png", "coffee.png"].map { name -> [String] in
            let (record, _) = try InputRecord.read(name: name, url: ws.url(name))
            return [record.fileSHA256, record.pixelsSHA256]
        }
        try ws.csv(Tiny.csv((1...4).map { Tiny.row("input.png", seed: "\($0)", name: "j\($0)", steps: 6) }))
        let process = try SVDBatchBinary.start(["jobs.csv", "--out", "out"], in: ws.root, log: ws.url("run.log"))
        XCTAssertTrue(waitFor { FileManager.default.fileExists(atPath: ws.url("out/j1.mp4").path) || !process.isRunning })
        // Replaced the way editors save: a new file renamed over the old name.
        try FileManager.default.copyItem(at: ws.url("coffee.png"), to: ws.url("input.tmp"))
        XCTAssertEqual(rename(ws.url("input.tmp").path, ws.url("input.png").path), 0)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, (try? String(contentsOf: ws.url("run.log"), encoding: .utf8)) ?? "")
        var seen: [[String]] = []
        for n in 1...4 {
            let input = try ws.recipe("out/j\(n).mp4").input
            XCTAssertTrue(versions.contains([input.fileSHA256, input.pixelsSHA256]), "j\(n): file and pixels of one version")
            seen.append([input.fileSHA256, input.pixelsSHA256])
        }
        XCTAssertEqual(seen.first, versions[0], "the first clip was made before the change")
        XCTAssertEqual(seen.last, versions[1], "the last one after it")
        if let changed = (1...4).first(where: { seen[$0 - 1] == versions[1] }) {
            let log = ws.url("verify.log")
            XCTAssertEqual(try SVDBatchBinary.run(["rerender", "out/j\(changed).mp4", "--verify"], in: ws.root, log: log), 0,
                           (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }
    }

    /// Every subcommand's messages, usage errors included, are `TIME level: message` lines on standard error.
    func testEverySubcommandLogsInOneFormat() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1"), "missing.png,2,,64,64,3,2"]))
        let pattern = try NSRegularExpression(pattern: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (info|notice|warning|error): \S"#)
        for arguments in [["jobs.csv", "--crf", "99"], ["jobs.csv", "--out", "out"], ["inspect", "nothing.mp4"],
                          ["grid", "nothing.mp4"], ["rerender", "nothing.mp4"], ["sweep", "cat.png", "--seeds", "x"]] {
            let log = ws.url("log-\(UUID().uuidString)")
            let status = try SVDBatchBinary.run(arguments, in: ws.root, log: log)
            let text = try String(contentsOf: log, encoding: .utf8)
            XCTAssertNotEqual(status, 0, "\(arguments)")
            let first = text.split(separator: "\n").first.map(String.init) ?? ""
            XCTAssertNotNil(pattern.firstMatch(in: first, range: NSRange(first.startIndex..., in: first)), "\(arguments): \(text)")
            XCTAssertTrue(text.contains(" error: "), "\(arguments): \(text)")
            XCTAssertFalse(text.contains("Error:") || text.contains("svdbatch: "), "\(arguments): \(text)")
        }
    }

    /// `inspect` of a grid shows its layout and cells; with --json the grid's metadata, every cell's recipe in it.
    func testInspectReadsAGridsCells() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1", name: "a"), Tiny.row(seed: "2", name: "b")]))
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--out", "out"], in: ws.root, log: ws.url("run.log")), 0)
        XCTAssertEqual(try SVDBatchBinary.run(["grid", "out/a.mp4", "out/b.mp4", "--out", "out/g.mp4"], in: ws.root,
                                              log: ws.url("grid.log")), 0)
        let text = ws.url("inspect.txt"), json = ws.url("inspect.json")
        XCTAssertEqual(try SVDBatchBinary.run(["inspect", "out/g.mp4"], in: ws.root, log: text), 0)
        let report = try String(contentsOf: text, encoding: .utf8)
        XCTAssertTrue(report.contains("svdbatch grid") && report.contains("a.mp4") && report.contains("b.mp4")
                      && report.contains("seed 2"), report)
        XCTAssertEqual(try SVDBatchBinary.run(["inspect", "out/g.mp4", "--json"], in: ws.root, log: json), 0)
        let metadata = try JSONDecoder().decode(GridMetadata.self, from: Data(contentsOf: json))
        XCTAssertEqual(metadata.cells.compactMap(\.recipe?.framesSHA256), [try ws.framesSHA("out/a.mp4"), try ws.framesSHA("out/b.mp4")])
    }

    func testSIGTERMStopsAtAStepBoundaryKeepsTheCheckpointAndExits143() throws {
        let ws = try Workspace()
        let reference = try uninterruptedFramesSHA(ws)

        let process = try startLongJob(ws, out: "stopped")
        process.terminate()
        process.waitUntilExit()
        let log = (try? String(contentsOf: ws.url("stopped.log"), encoding: .utf8)) ?? ""
        XCTAssertEqual(process.terminationReason, .exit, log)
        XCTAssertEqual(process.terminationStatus, 143, log)
        let state = try XCTUnwrap(try CheckpointFile.read(ws.url("stopped/.long.state")), log)
        XCTAssertLessThan(state.checkpoint.stepsDone, Self.longSteps)
        XCTAssertFalse(ws.files(in: "stopped").contains { $0.contains(".tmp-") }, "no temporary files: \(ws.files(in: "stopped"))")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("stopped/long.mp4").path))
        XCTAssertEqual(try ws.manifest("stopped").last?.status, .interrupted)

        XCTAssertEqual(try SVDBatchBinary.run(["long.csv", "--out", "stopped"], in: ws.root, log: ws.url("resume.log")), 0)
        XCTAssertEqual(try ws.manifest("stopped").last?.status, .resumed)
        XCTAssertEqual(try ws.framesSHA("stopped/long.mp4"), reference)

        // Ctrl-C does the same with status 130.
        let interrupted = try startLongJob(ws, out: "ctrl-c")
        interrupted.interrupt()
        interrupted.waitUntilExit()
        XCTAssertEqual(interrupted.terminationStatus, 130)
        XCTAssertNotNil(try CheckpointFile.read(ws.url("ctrl-c/.long.state")))
        XCTAssertFalse(ws.files(in: "ctrl-c").contains { $0.contains(".tmp-") })
    }

    func testASecondRunOnTheSameFolderAndShardExits75() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        try FileManager.default.createDirectory(at: ws.url("out"), withIntermediateDirectories: true)
        let held = try RunLock.acquire(directory: ws.url("out"), shard: nil)
        let status = try SVDBatchBinary.run(["jobs.csv", "--out", "out"], in: ws.root, log: ws.url("locked.log"))
        XCTAssertEqual(status, 75)
        let log = try String(contentsOf: ws.url("locked.log"), encoding: .utf8)
        XCTAssertTrue(log.contains("another svdbatch run"), log)
        XCTAssertEqual(ws.visibleFiles(in: "out"), [], "the locked-out run touched nothing")
        held.release()
    }

    func testShardsSideBySideRenderExactlyTheUnshardedSet() throws {
        let ws = try Workspace()
        let rows = (1...6).map { Tiny.row($0 % 2 == 0 ? "coffee.png" : "cat.png", seed: "\($0 * 101)") } + [Tiny.row(seed: "bad")]
        try ws.csv(Tiny.csv(rows))
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--out", "whole"], in: ws.root, log: ws.url("whole.log")), 1)
        let expected = ws.visibleFiles(in: "whole").filter { $0.hasSuffix(".mp4") }
        XCTAssertEqual(expected.count, 6)

        let shards = try (0..<2).map {
            try SVDBatchBinary.start(["jobs.csv", "--out", "split", "--shard", "\($0)/2"], in: ws.root, log: ws.url("shard\($0).log"))
        }
        for process in shards { process.waitUntilExit() }
        XCTAssertEqual(shards.map(\.terminationStatus), [1, 1], "the invalid row fails both shards")

        XCTAssertEqual(ws.visibleFiles(in: "split").filter { $0.hasSuffix(".mp4") }, expected)
        for clip in expected {
            XCTAssertEqual(try ws.framesSHA("split/\(clip)"), try ws.framesSHA("whole/\(clip)"), clip)
        }
        let parts = try (0..<2).map { try ws.manifest("split", shard: try Shard(index: $0, count: 2)) }
        let rendered = parts.map { Set($0.filter { $0.status == .rendered }.compactMap(\.name)) }
        XCTAssertFalse(rendered[0].isEmpty || rendered[1].isEmpty, "both shards got work: \(rendered)")
        XCTAssertTrue(rendered[0].isDisjoint(with: rendered[1]))
        XCTAssertEqual(rendered[0].union(rendered[1]).count, 6)
        for part in parts {
            XCTAssertEqual(part.filter { $0.status == .failed }.map(\.line), [8], "every shard reports the invalid row")
        }
        XCTAssertTrue(ws.files(in: "split").contains(".svdbatch-shard-0-of-2.lock"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("split/manifest.jsonl").path))
    }

    /// An unsharded run and a sharded run on one folder would render the same clips: whichever comes second
    /// exits 75 at once and touches nothing, and the first finishes undisturbed.
    func testUnshardedAndShardedRunsOnOneFolderExcludeEachOther() throws {
        let ws = try Workspace()
        let reference = try uninterruptedFramesSHA(ws)
        try ws.csv("long.csv", Self.longCSV)
        for (first, second) in [([String](), ["--shard", "0/1"]), (["--shard", "0/1"], [String]())] {
            let out = "mixed\(first.isEmpty ? "A" : "B")"
            let process = try SVDBatchBinary.start(["long.csv", "--out", out] + first, in: ws.root, log: ws.url("\(out)-first.log"))
            XCTAssertTrue(waitFor { FileManager.default.fileExists(atPath: ws.url("\(out)/.long.state").path) || !process.isRunning })
            let status = try SVDBatchBinary.run(["long.csv", "--out", out] + second, in: ws.root, log: ws.url("\(out)-second.log"))
            let log = (try? String(contentsOf: ws.url("\(out)-second.log"), encoding: .utf8)) ?? ""
            XCTAssertEqual(status, 75, log)
            XCTAssertTrue(log.contains("would render"), log)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
            XCTAssertEqual(try ws.framesSHA("\(out)/long.mp4"), reference)
            let manifests = ws.files(in: out).filter { $0.hasSuffix(".jsonl") }
            XCTAssertEqual(manifests.count, 1, "only the first run wrote a manifest: \(manifests)")
            XCTAssertEqual(ws.files(in: out).filter { $0.hasSuffix(".state") || $0.contains(".tmp-") }, [])
        }
    }

    func testUsageErrorsExit2AndTheDemoModelIsFoundFromAnyFolder() throws {
        let ws = try Workspace()
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--shard", "2/2"], in: ws.root, log: ws.url("usage.log")), 2)
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--format", "avi"], in: ws.root, log: ws.url("usage.log")), 2)
        XCTAssertEqual(try SVDBatchBinary.run(["--bogus"], in: ws.root, log: ws.url("usage.log")), 2)
        XCTAssertEqual(try SVDBatchBinary.run(["run", "--help"], in: ws.root, log: ws.url("help.log")), 0)
        let help = try String(contentsOf: ws.url("help.log"), encoding: .utf8)
        for option in ["--out", "--model", "--variant", "--format", "--crf", "--save-frames", "--threads", "--shard",
                       "--force", "--dry-run", "--quiet"] {
            XCTAssertTrue(help.contains(option), option)
        }

        // Started far from the source tree, as cron would (in $HOME): the demo model is still found.
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        let status = try SVDBatchBinary.run([ws.url("jobs.csv").path, "--out", ws.url("out").path, "--dry-run"],
                                            in: URL(fileURLWithPath: "/"), log: ws.url("demo.log"))
        let log = try String(contentsOf: ws.url("demo.log"), encoding: .utf8)
        XCTAssertEqual(status, 0, log)
        XCTAssertTrue(log.contains("demo model") && log.contains("random weights"), log)
    }

    func testCRFOutsideTheFormatsRangeIsAUsageError() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        let log = ws.url("crf.txt")
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--crf", "60", "--dry-run"], in: ws.root, log: log), 2)
        XCTAssertTrue(try String(contentsOf: log, encoding: .utf8).contains("--crf 60 is outside 0–51"))
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--crf", "60", "--format", "webm", "--dry-run"], in: ws.root, log: log), 0)
        XCTAssertEqual(try SVDBatchBinary.run(["jobs.csv", "--crf", "64", "--format", "webm", "--dry-run"], in: ws.root, log: log), 2)
    }

    /// The executable without a terminal (its standard input and error are files here), as under cron: no model
    /// named anywhere is an error (status 2), never the demo model.
    func testAnUnattendedRunWithoutAModelExits2() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        var environment = Workspace.environment
        environment.removeValue(forKey: "SVDBATCH_MODEL")
        let log = ws.url("cron.log")
        let process = Process()
        process.executableURL = try SVDBatchBinary.url()
        process.arguments = ["jobs.csv", "--out", "cron"]
        process.currentDirectoryURL = ws.root
        process.environment = environment
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let text = try String(contentsOf: log, encoding: .utf8)
        XCTAssertEqual(process.terminationStatus, 2, text)
        XCTAssertTrue(text.contains("never falls back to the bundled demo model"), text)
    }
}
