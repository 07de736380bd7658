import Foundation
import BatchTestSupport
import SVDBatch
import TestSupport
import XCTest

/// Faults injected into the built executable: a file-size limit or a full disk mid-write, a folder it may not
/// create files in, stop signals in its first instants, runs of different sharding on one folder.
final class FaultInjectionTests: XCTestCase {
    /// Runs `script` with bash in the workspace, `$SVDBATCH` naming the executable; returns its exit status and
    /// everything it printed.
    private func bash(_ ws: Workspace, _ script: String) throws -> (status: Int32, log: String) {
        let log = ws.url("bash-\(UUID().uuidString).log")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = ws.root
        var environment = Workspace.environment
        environment["SVDBATCH"] = try SVDBatchBinary.url().path
        process.environment = environment
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// Rows that are all invalid: the run writes manifest lines and renders nothing.
    private static let invalidRows = Tiny.csv([
        "cat.png,1,a,100,64,3,2", "cat.png,2,b,100,64,3,2", "cat.png,3,c,100,64,3,2",
    ])

    /// A write that crosses the file-size limit stores part of a line and then fails, as on a full disk.
    func testAManifestWriteCutShortLeavesWholeLinesAndTheRerunCompletes() throws {
        let ws = try Workspace()
        try ws.csv(Self.invalidRows)
        try FileManager.default.createDirectory(at: ws.url("out"), withIntermediateDirectories: true)
        let earlier = ManifestEntry(csv: "/x.csv", line: 2, name: "x", output: nil, status: .failed, seconds: 0, jobKey: nil,
                                    error: String(repeating: "e", count: 800))
        let prefix = try earlier.jsonLine() + "\n"
        try Data(prefix.utf8).write(to: ws.url("out/manifest.jsonl"))

        // ulimit -f counts 1024-byte blocks: the first new line crosses 1024 bytes.
        let limited = try bash(ws, "ulimit -f 1; \"$SVDBATCH\" jobs.csv --out out")
        XCTAssertEqual(limited.status, 2, limited.log)
        XCTAssertTrue(limited.log.contains("manifest.jsonl: cannot append to the manifest: file too large"), limited.log)
        XCTAssertEqual(try String(contentsOf: ws.url("out/manifest.jsonl"), encoding: .utf8), prefix,
                       "the part of the line that fitted was cut back off")

        let rerun = try bash(ws, "\"$SVDBATCH\" jobs.csv --out out")
        XCTAssertEqual(rerun.status, 1, rerun.log)
        XCTAssertEqual(try ws.manifest().map(\.line), [2, 2, 3, 4], "every line parses")
    }

    /// A real full disk (a 4 MiB tmpfs; skipped where mounting is not allowed): the clip fails with the
    /// file named, nothing partial keeps a final name, and the manifest keeps whole lines.
    func testAFullDiskFailsTheJobAndTheManifestStaysWhole() throws {
        let ws = try Workspace()
        let mount = ws.url("small")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        let mounted = try bash(ws, "mount -t tmpfs -o size=4m svdbatch-test small 2>&1")
        try XCTSkipIf(mounted.status != 0, "cannot mount a tmpfs here: \(mounted.log)")
        defer { _ = try? bash(ws, "umount small") }
        try ws.csv(Tiny.csv([Tiny.row(seed: "1", name: "big", frames: 8)]).replacingOccurrences(of: ",64,64,", with: ",256,256,"))
        // Leave 8 KiB free: the lock, the probe and the manifest's first lines fit, the clip does not.
        let filled = try bash(ws, "mkdir -p small/out && head -c $((4*1024*1024 - 12*1024)) /dev/zero > small/filler 2>/dev/null; df -B1 small | tail -1")
        XCTAssertEqual(filled.status, 0, filled.log)
        let full = try bash(ws, "\"$SVDBATCH\" jobs.csv --out small/out --save-frames")
        XCTAssertEqual(full.status, 1, full.log)
        XCTAssertTrue(full.log.contains("no space left on device"), full.log)
        XCTAssertEqual(ws.visibleFiles(in: "small/out").filter { $0.hasPrefix("big") }, [], "no partial clip or frames under a final name")
        // The checkpoint (128 KiB of latents) did not fit either: said so, and no partial state file is left.
        XCTAssertTrue(full.log.contains("cannot save checkpoints"), full.log)
        XCTAssertEqual(ws.files(in: "small/out").filter { $0.hasSuffix(".state") || $0.contains(".tmp-") }, [])
        let text = try String(contentsOf: ws.url("small/out/manifest.jsonl"), encoding: .utf8)
        XCTAssertTrue(text.isEmpty || text.hasSuffix("\n"), text)

        _ = try bash(ws, "rm small/filler")
        let rerun = try bash(ws, "\"$SVDBATCH\" jobs.csv --out small/out --save-frames")
        XCTAssertEqual(rerun.status, 0, rerun.log)
        XCTAssertEqual(try ws.manifest("small/out").last?.status, .rendered)
    }

    /// A folder the user may not create files in, though the lock and the manifest are writable: the run stops
    /// before rendering with status 2. Needs root to set the folder up for an unprivileged user (root itself
    /// may create files anywhere).
    func testAFolderThatRefusesNewFilesStopsTheRunBeforeRendering() throws {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                          "needs root and setpriv to run svdbatch as an unprivileged user")
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1", name: "a")]))
        let setup = try bash(ws, """
            mkdir out && touch out/.svdbatch.lock out/manifest.jsonl && chmod 666 out/.svdbatch.lock out/manifest.jsonl \
            && chmod 755 out && chmod 755 . && chmod 644 jobs.csv cat.png && mkdir home && chmod 777 home
            """)
        XCTAssertEqual(setup.status, 0, setup.log)
        let run = try bash(ws, "setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=\(ws.url("home").path) \"$SVDBATCH\" jobs.csv --out out --model \(Fixtures.demoModel.path)")
        XCTAssertEqual(run.status, 2, run.log)
        XCTAssertTrue(run.log.contains("output folder unusable"), run.log)
        XCTAssertTrue(run.log.contains("permission denied"), run.log)
        XCTAssertFalse(run.log.contains("rendering"), "nothing was rendered: \(run.log)")
    }

    /// A stop signal is never lost in the first instants: SIGTERM stops the run however early it comes, and
    /// a SIGINT inherited as ignored (a background job of a script) stays ignored for the whole run.
    func testEarlySignalsAreHandledTheSameFromTheFirstInstant() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1", name: "a", steps: 24)]))
        for delay in ["0.01", "0.05", "0.2"] {
            let term = try bash(ws, "\"$SVDBATCH\" jobs.csv --out term\(delay) & p=$!; sleep \(delay); kill -TERM $p; wait $p")
            XCTAssertEqual(term.status, 143, "SIGTERM after \(delay) s: \(term.log)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("term\(delay)/a.mp4").path))

            let ignored = try bash(ws, "\"$SVDBATCH\" jobs.csv --out int\(delay) & p=$!; sleep \(delay); kill -INT $p; wait $p")
            XCTAssertEqual(ignored.status, 0, "an inherited ignored SIGINT after \(delay) s: \(ignored.log)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: ws.url("int\(delay)/a.mp4").path))
        }
    }
}
