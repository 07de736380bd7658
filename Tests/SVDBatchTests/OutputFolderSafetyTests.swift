import Foundation
import BatchTestSupport
@testable import SVDBatch
import SVDCore
import XCTest

/// What a run writes in its output folder, when others can write there too: no file outside the folder is ever
/// written through a link, the manifest only ever holds whole lines, runs that could write the same clips
/// exclude each other, and only provably abandoned temporary files are removed.
final class OutputFolderSafetyTests: XCTestCase {
    /// A file outside the output folder that a planted link points at; it must never change.
    private func victim(_ ws: Workspace, _ name: String) throws -> URL {
        let url = ws.url(name)
        try Data("precious \(name)\n".utf8).write(to: url)
        return url
    }

    private func unchanged(_ url: URL, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(try? String(contentsOf: url, encoding: .utf8), "precious \(url.lastPathComponent)\n",
                       "\(url.path) was written through a link", file: file, line: line)
    }

    func testLinksAtTheLockOrManifestAreRefusedBeforeAnythingRenders() throws {
        for shard in [nil, try Shard(index: 0, count: 1)] {
            for planted in [Shard.lockFileName(shard), Shard.manifestFileName(shard)] {
                let ws = try Workspace()
                try ws.csv(Tiny.csv([Tiny.row(seed: "1", name: "a")]))
                try FileManager.default.createDirectory(at: ws.url("out"), withIntermediateDirectories: true)
                let target = try victim(ws, "victim")
                try FileManager.default.createSymbolicLink(at: ws.url("out/\(planted)"), withDestinationURL: target)
                let run = ws.run { $0.shard = shard }
                XCTAssertEqual(run.status, .fatal, run.messages)
                XCTAssertTrue(run.messages.contains("output folder unusable"), run.messages)
                XCTAssertTrue(run.messages.contains("\(planted) is a symbolic link"), run.messages)
                unchanged(target)
                XCTAssertEqual(ws.visibleFiles(in: "out").filter { $0.hasSuffix(".mp4") }, [], "nothing rendered")
            }
        }
    }

    /// A link at a clip's final name, pointing outside the folder, is a conflict left alone; with --force the link
    /// itself is replaced by the clip, and its target never changes. `--out` naming a file stops the run.
    func testALinkAtAClipsFinalNameIsNeverWrittenThrough() throws {
        let ws = try Workspace()
        let target = try victim(ws, "elsewhere.mp4")
        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        try FileManager.default.createDirectory(at: ws.url("out"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: ws.url("out/cat-s1.mp4"), withDestinationURL: target)
        let blocked = ws.run()
        XCTAssertEqual(blocked.result.entries.map(\.status), [.conflict], blocked.messages)
        XCTAssertTrue(blocked.messages.contains("is not a regular file"), blocked.messages)
        unchanged(target)
        let forced = ws.run { $0.force = true }
        XCTAssertEqual(forced.result.entries.map(\.status), [.rendered], forced.messages)
        unchanged(target)
        var info = stat()
        XCTAssertEqual(lstat(ws.url("out/cat-s1.mp4").path, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFREG, "the link was replaced by the clip itself")

        try Data("a file".utf8).write(to: ws.url("plain"))
        let outIsAFile = ws.run(out: "plain")
        XCTAssertEqual(outIsAFile.status, .fatal, outIsAFile.messages)
        XCTAssertTrue(outIsAFile.messages.contains("plain"), outIsAFile.messages)
        XCTAssertEqual(try String(contentsOf: ws.url("plain"), encoding: .utf8), "a file")
    }

    func testLinksPlantedAtTemporaryNamesAreNeverFollowed() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1", name: "a")]))
        try FileManager.default.createDirectory(at: ws.url("out"), withIntermediateDirectories: true)
        let pid = getpid()
        var targets: [URL] = []
        // This process's temporary names for the clip and its checkpoint, and for its frames folder.
        for name in [".a.mp4.tmp-\(pid)", ".a.state.tmp-\(pid)"] {
            let target = try victim(ws, "victim\(targets.count)")
            try FileManager.default.createSymbolicLink(at: ws.url("out/\(name)"), withDestinationURL: target)
            targets.append(target)
        }
        let folderTarget = ws.url("elsewhere")
        try FileManager.default.createDirectory(at: folderTarget, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: ws.url("out/.a_frames.tmp-\(pid)"), withDestinationURL: folderTarget)

        let run = ws.run { $0.saveFrames = true }
        XCTAssertEqual(run.status, .success, run.messages)
        for target in targets { unchanged(target) }
        XCTAssertEqual(ws.files(in: "elsewhere"), [], "no frame was written into the linked folder")
        XCTAssertEqual(ws.files(in: "out/a_frames").count, 4, "3 frames and the marker")
        XCTAssertEqual(try ws.recipe("out/a.mp4").parameters.video.numFrames, 3)
    }

    func testTheManifestKeepsOnlyWholeLines() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1", name: "a")]))
        try FileManager.default.createDirectory(at: ws.url("out"), withIntermediateDirectories: true)
        // An earlier run stopped by a full disk mid-line (as older releases left it).
        let earlier = ManifestEntry(csv: "/x.csv", line: 2, name: "x", output: nil, status: .failed, seconds: 0,
                                    jobKey: nil, error: "e")
        try Data((try earlier.jsonLine() + "\n{\"time\":\"2026-12-05T").utf8).write(to: ws.url("out/manifest.jsonl"))
        let run = ws.run()
        XCTAssertEqual(run.status, .success, run.messages)
        let text = try String(contentsOf: ws.url("out/manifest.jsonl"), encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"))
        XCTAssertEqual(try ws.manifest().map(\.status), [.failed, .rendered], text)
    }

    func testRunsThatCouldWriteTheSameClipsExcludeEachOther() throws {
        let ws = try Workspace()
        let folder = ws.url("out")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func shard(_ k: Int, _ n: Int) throws -> Shard { try Shard(index: k, count: n) }
        func refused(_ shard: Shard?, file: StaticString = #filePath, line: UInt = #line) -> String {
            do {
                _ = try RunLock.acquire(directory: folder, shard: shard)
                XCTFail("\(shard.map(\.description) ?? "unsharded") was let in", file: file, line: line)
                return ""
            } catch let error as RunLockError {
                return "\(error)"
            } catch { return "\(error)" }
        }

        let unsharded = try RunLock.acquire(directory: folder, shard: nil)
        XCTAssertTrue(refused(nil).contains("another svdbatch run is using this output folder"))
        XCTAssertTrue(refused(try shard(0, 2)).contains("an unsharded svdbatch run is using this output folder (held by pid \(getpid())"))
        unsharded.release()

        let first = try RunLock.acquire(directory: folder, shard: try shard(0, 2))
        let second = try RunLock.acquire(directory: folder, shard: try shard(1, 2))   // shards of one count: side by side
        XCTAssertTrue(refused(try shard(0, 2)).contains("for shard 0/2"))
        let message = refused(nil)
        XCTAssertTrue(message.contains("sharded runs are using this output folder (shard 0/2 held by pid"), message)
        XCTAssertTrue(message.contains("shard 1/2"), message)
        XCTAssertTrue(refused(try shard(2, 3)).contains("shards of another count are using this output folder"))
        first.release()
        second.release()
        let third = try RunLock.acquire(directory: folder, shard: try shard(2, 3))   // free again
        third.release()
        XCTAssertNoThrow(try RunLock.acquire(directory: folder, shard: nil).release())
    }

    func testOnlyTemporariesOfGoneProcessesAreRemoved() throws {
        let ws = try Workspace()
        try ws.csv(Tiny.csv([Tiny.row(seed: "1", name: "a")]))
        try FileManager.default.createDirectory(at: ws.url("out"), withIntermediateDirectories: true)
        // pid 1 is alive (another process may be writing it); a pid past pid_max never is.
        let live = ".a.mp4.tmp-1", gone = ".a.mp4.tmp-2147483646", other = ".b.mp4.tmp-2147483646"
        for name in [live, gone, other] { try Data("x".utf8).write(to: ws.url("out/\(name)")) }
        XCTAssertEqual(ws.run().status, .success)
        let left = ws.files(in: "out")
        XCTAssertTrue(left.contains(live), "\(left)")
        XCTAssertFalse(left.contains(gone), "\(left)")
        XCTAssertTrue(left.contains(other), "another job's file is not this run's to remove: \(left)")
    }

    func testProbeFindsAFolderThatRefusesNewFiles() throws {
        let ws = try Workspace()
        XCTAssertNoThrow(try AtomicFile.probe(folder: ws.root))
        XCTAssertEqual(ws.files(in: "").filter { $0.contains("probe") }, [], "the probe leaves nothing behind")
        XCTAssertThrowsError(try AtomicFile.probe(folder: ws.url("missing"))) { error in
            XCTAssertTrue("\(error)".contains("no such file or directory"), "\(error)")
        }
    }
}
