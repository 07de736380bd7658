import Foundation
import BatchTestSupport
import SVDBatch
import SVDCore
import SVDMedia
import XCTest

/// `svdbatch sweep` on the demo model with tiny cells (64×64, 3 frames, 2 steps), in-process.
final class SweepTests: XCTestCase {
    static let tiny = ["width=64", "height=64", "num_frames=3", "num_inference_steps=2"]

    struct SweepOutput {
        let result: SweepResult
        let messages: String
        let output: String
    }

    private func sweep(_ ws: Workspace, seeds: String, vary: [String], set: [String] = tiny, out: String = "out",
                       configure: (inout SweepOptions) -> Void = { _ in }) -> SweepOutput {
        var options = SweepOptions(imagePath: "cat.png", seeds: seeds, workingDirectory: ws.root,
                                   environment: Workspace.environment)
        options.vary = vary
        options.set = set
        options.outputDirectory = out
        configure(&options)
        let messages = BufferSink(), output = BufferSink()
        let result = Sweep.run(options, console: BatchConsole(output: output, messages: messages, messagesAreTerminal: false))
        return SweepOutput(result: result, messages: messages.text, output: output.text)
    }

    private func gridMetadata(_ ws: Workspace, _ relative: String) throws -> GridMetadata {
        let probe = try ClipReader.probe(ws.url(relative))
        return try GridMetadata.decode(comment: probe.comment, file: relative)
    }

    func testTwoByThreeSweepMakesSixCellsAGridAndASheetAndARerunRendersNothing() throws {
        let ws = try Workspace()
        let first = sweep(ws, seeds: "1,2", vary: ["motion_bucket_id=60,127,180"])
        XCTAssertEqual(first.result.status, .success, first.messages)
        let cells = ["60", "127", "180"].flatMap { m in ["1", "2"].map { s in "cat-s\(s)-motion_bucket_id\(m).mp4" } }
        XCTAssertEqual(Set(ws.visibleFiles(in: "out")), Set(cells + ["cat-grid.mp4", "cat-grid.png", "manifest.jsonl"]))
        XCTAssertEqual(try ws.manifest().map(\.status), Array(repeating: .rendered, count: 6))
        XCTAssertEqual(try ws.manifest().map(\.name), cells.map { String($0.dropLast(4)) }, "row-major: seeds across, values down")
        XCTAssertEqual(try ws.manifest().first?.csv, "sweep:" + ws.url("cat.png").standardizedFileURL.path)
        for seed in ["1", "2"] {
            for motion in [60, 127, 180] {
                let recipe = try ws.recipe("out/cat-s\(seed)-motion_bucket_id\(motion).mp4")
                XCTAssertEqual(recipe.parameters.video.seed.text, seed)
                XCTAssertEqual(recipe.parameters.video.motionBucketId, motion)
                XCTAssertEqual(recipe.parameters.video.numInferenceSteps, 2, "--set applies to every cell")
                XCTAssertEqual(recipe.input.name, "cat.png")
            }
        }
        XCTAssertNotEqual(try ws.framesSHA("out/cat-s1-motion_bucket_id60.mp4"), try ws.framesSHA("out/cat-s1-motion_bucket_id180.mp4"))
        XCTAssertNotEqual(try ws.framesSHA("out/cat-s1-motion_bucket_id60.mp4"), try ws.framesSHA("out/cat-s2-motion_bucket_id60.mp4"))

        let metadata = try gridMetadata(ws, "out/cat-grid.mp4")
        XCTAssertEqual(metadata.columns, 2)
        XCTAssertEqual(metadata.rows, 3)
        XCTAssertEqual(metadata.cells.map(\.file), cells)
        XCTAssertEqual(metadata.columnHeaders, ["seed=1", "seed=2"])
        XCTAssertEqual(metadata.rowHeaders, ["motion_bucket_id=60", "motion_bucket_id=127", "motion_bucket_id=180"])
        for cell in metadata.cells {
            XCTAssertEqual(cell.recipe, try ws.recipe("out/\(cell.file)"), "the grid carries each cell's full recipe")
        }
        let sheet = try ImageInput.load(path: ws.url("out/cat-grid.png").path)
        XCTAssertGreaterThan(sheet.height, sheet.width, "one contact-sheet row per cell")

        // Again: nothing renders, and the grid is left exactly as it was.
        let gridBytes = try Data(contentsOf: ws.url("out/cat-grid.mp4"))
        let gridDate = try FileManager.default.attributesOfItem(atPath: ws.url("out/cat-grid.mp4").path)[.modificationDate] as? Date
        let second = sweep(ws, seeds: "1,2", vary: ["motion_bucket_id=60,127,180"])
        XCTAssertEqual(second.result.status, .success, second.messages)
        XCTAssertEqual(second.result.entries.map(\.status), Array(repeating: .upToDate, count: 6))
        XCTAssertEqual(try ws.manifest().suffix(6).map(\.status), Array(repeating: .upToDate, count: 6))
        XCTAssertTrue(second.messages.contains("cat-grid.mp4 is up to date"), second.messages)
        XCTAssertEqual(try Data(contentsOf: ws.url("out/cat-grid.mp4")), gridBytes)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: ws.url("out/cat-grid.mp4").path)[.modificationDate] as? Date, gridDate)

        // A missing contact sheet is made again, still without rendering anything.
        try FileManager.default.removeItem(at: ws.url("out/cat-grid.png"))
        let third = sweep(ws, seeds: "1,2", vary: ["motion_bucket_id=60,127,180"])
        XCTAssertEqual(third.result.status, .success, third.messages)
        XCTAssertEqual(third.result.entries.map(\.status), Array(repeating: .upToDate, count: 6))
        XCTAssertTrue(FileManager.default.fileExists(atPath: ws.url("out/cat-grid.png").path))
        XCTAssertTrue(third.messages.contains("contact sheet cat-grid.png is missing"), third.messages)
    }

    /// A lossless sweep, so each cell's first frame can be found pixel for pixel in the grid's first frame:
    /// seeds left to right, varied values top to bottom.
    func testCellsArePlacedOneColumnPerSeedAndOneRowPerValue() throws {
        let ws = try Workspace()
        let run = sweep(ws, seeds: "3,1,2", vary: ["noise_aug_strength=0,0.1"]) { $0.format = .mkv }
        XCTAssertEqual(run.result.status, .success, run.messages)
        XCTAssertEqual(run.result.grid?.lastPathComponent, "cat-grid.mkv")
        let grid = try ClipReader.decode(ws.url("out/cat-grid.mkv")).frames[0]
        var positions: [String: (x: Int, y: Int)] = [:]
        for noise in ["0", "0.1"] {
            for seed in ["3", "1", "2"] {
                let name = "cat-s\(seed)-noise_aug_strength\(noise).mkv"
                let frame = try ClipReader.decode(ws.url("out/\(name)")).frames[0]
                positions[name] = try XCTUnwrap(Self.locate(frame, in: grid), "\(name) is not in the grid")
            }
        }
        for noise in ["0", "0.1"] {
            let row = ["3", "1", "2"].map { positions["cat-s\($0)-noise_aug_strength\(noise).mkv"]! }
            XCTAssertEqual(Set(row.map(\.y)).count, 1, "one row per value")
            XCTAssertEqual(row.map(\.x), row.map(\.x).sorted(), "seeds in the order given, left to right")
        }
        XCTAssertLessThan(positions["cat-s3-noise_aug_strength0.mkv"]!.y, positions["cat-s3-noise_aug_strength0.1.mkv"]!.y)
        XCTAssertEqual(positions["cat-s1-noise_aug_strength0.mkv"]!.x, positions["cat-s1-noise_aug_strength0.1.mkv"]!.x,
                       "one column per seed")
        // The headers sit in the margins: left of the first column and above the first row, and not empty.
        let first = positions["cat-s3-noise_aug_strength0.mkv"]!
        XCTAssertGreaterThan(first.x, 20, "room for the row headers")
        XCTAssertGreaterThan(first.y, 5, "room for the column headers")
        XCTAssertTrue(Self.hasBrightPixels(grid, x: 0..<first.x, y: first.y..<(first.y + 64)), "row header text")
        XCTAssertTrue(Self.hasBrightPixels(grid, x: first.x..<(first.x + 64), y: 0..<first.y), "column header text")
    }

    func testAnotherSweepsGridIsAConflictUnlessForceAndAChangedCellRebuildsIt() throws {
        let ws = try Workspace()
        XCTAssertEqual(sweep(ws, seeds: "1,2", vary: ["motion_bucket_id=60,127"]).result.status, .success)
        let gridBytes = try Data(contentsOf: ws.url("out/cat-grid.mp4"))

        let other = sweep(ws, seeds: "1", vary: ["noise_aug_strength=0,0.1"])
        XCTAssertEqual(other.result.status, .jobsFailed, other.messages)
        XCTAssertEqual(other.result.entries.map(\.status), [.rendered, .rendered], "the cells render; only the grid is refused")
        XCTAssertTrue(other.messages.contains("is the grid of other clips") && other.messages.contains("--force"), other.messages)
        XCTAssertEqual(try Data(contentsOf: ws.url("out/cat-grid.mp4")), gridBytes, "left alone")

        let forced = sweep(ws, seeds: "1", vary: ["noise_aug_strength=0,0.1"]) { $0.force = true }
        XCTAssertEqual(forced.result.status, .success, forced.messages)
        XCTAssertEqual(forced.result.entries.map(\.status), [.upToDate, .upToDate], "--force never re-renders up-to-date cells")
        XCTAssertEqual(try gridMetadata(ws, "out/cat-grid.mp4").cells.map(\.file),
                       ["cat-s1-noise_aug_strength0.mp4", "cat-s1-noise_aug_strength0.1.mp4"])

        // A cell whose recipe changed since the grid was built (here: its diagnostics) makes the grid stale.
        let cell = ws.url("out/cat-s1-noise_aug_strength0.1.mp4")
        var recipe = try ws.recipe("out/cat-s1-noise_aug_strength0.1.mp4")
        recipe.diagnostics.threads = 99
        let frames = try ClipReader.decode(cell).frames
        try ClipWriter.write(frames, fps: 7, settings: recipe.encoder, comment: try recipe.json(), to: cell, overwrite: true)
        let rebuilt = sweep(ws, seeds: "1", vary: ["noise_aug_strength=0,0.1"])
        XCTAssertEqual(rebuilt.result.status, .success, rebuilt.messages)
        XCTAssertEqual(rebuilt.result.entries.map(\.status), [.upToDate, .upToDate])
        XCTAssertTrue(rebuilt.messages.contains("rebuilding the grid") && rebuilt.messages.contains("1 of its cells changed"), rebuilt.messages)
        XCTAssertEqual(try gridMetadata(ws, "out/cat-grid.mp4").cells[1].recipe?.diagnostics.threads, 99)

        // A contact sheet without its grid may be someone's picture: a conflict too.
        try FileManager.default.createDirectory(at: ws.url("stray"), withIntermediateDirectories: true)
        try Data("my picture".utf8).write(to: ws.url("stray/cat-grid.png"))
        let stray = sweep(ws, seeds: "1", vary: ["noise_aug_strength=0,0.1"], out: "stray")
        XCTAssertEqual(stray.result.status, .jobsFailed, stray.messages)
        XCTAssertEqual(try String(contentsOf: ws.url("stray/cat-grid.png"), encoding: .utf8), "my picture")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("stray/cat-grid.mp4").path))
    }

    func testValidationErrorsNameTheOptionAndValueAndWriteNothing() throws {
        let ws = try Workspace()
        let cases: [(seeds: String, vary: [String], set: [String], expected: [String])] = [
            ("1,2", ["motion_bucket_id=60,abc"], Self.tiny, ["--vary motion_bucket_id=60,abc: motion_bucket_id 'abc' is not an integer"]),
            ("1", [], Self.tiny + ["fps=0"], ["--set fps=0: fps 0 must be at least 1"]),
            ("1,x", [], Self.tiny, ["--seeds 1,x: seed 'x' is not a decimal integer"]),
            ("1,1", [], Self.tiny, ["--seeds 1,1: 1 is listed twice"]),
            ("1", ["seed=1,2"], Self.tiny, ["--vary seed=1,2: seed cannot be given with --vary", "--seeds"]),
            ("1", ["colour=1,2"], Self.tiny, ["--vary colour=1,2: unknown key 'colour'"]),
            ("1", ["motion_bucket_id=1,2"], Self.tiny + ["motion_bucket_id=5"], ["--set motion_bucket_id=5: motion_bucket_id is already given by --vary motion_bucket_id=1,2"]),
            ("1", ["width=64,100"], ["height=64", "num_frames=3", "num_inference_steps=2"], ["--vary width=64,100: width 100 must be a multiple of 8"]),
            ("1", ["min_guidance_scale=1,5"], Self.tiny, ["--vary min_guidance_scale=1,5: max_guidance_scale 3.0 is below min_guidance_scale 5.0"]),
            ("1", ["min_guidance_scale=1,5", "max_guidance_scale=2,6"], Self.tiny,
             ["cell cat-s1-min_guidance_scale5-max_guidance_scale2 (seed=1, min_guidance_scale=5, max_guidance_scale=2): max_guidance_scale 2.0 is below"]),
            ("1", ["fps=7,"], Self.tiny, ["--vary fps=7,: an empty value"]),
            ("1", ["format=mp4,avi"], Self.tiny, ["--vary format=mp4,avi: format 'avi' is not one of"]),
        ]
        for c in cases {
            let run = sweep(ws, seeds: c.seeds, vary: c.vary, set: c.set)
            XCTAssertEqual(run.result.status, .fatal, "\(c)")
            for text in c.expected { XCTAssertTrue(run.messages.contains(text), "expected '\(text)' in:\n\(run.messages)") }
        }
        let noModel = sweep(ws, seeds: "1", vary: []) { $0.model = "no/such-model" }
        XCTAssertEqual(noModel.result.status, .fatal)
        XCTAssertTrue(noModel.messages.contains("--model: model 'no/such-model' is not a folder here"), noModel.messages)
        let noImage = sweep(ws, seeds: "1", vary: []) { $0.imagePath = "missing.png" }
        XCTAssertEqual(noImage.result.status, .fatal)
        XCTAssertTrue(noImage.messages.contains("missing.png"), noImage.messages)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("out").path), "nothing is written before the options check out")
    }

    func testDryRunPrintsEveryCellAndTheGridAndALockedFolderExits75() throws {
        let ws = try Workspace()
        let dry = sweep(ws, seeds: "1,2", vary: ["fps=6,8"]) { $0.dryRun = true }
        XCTAssertEqual(dry.result.status, .success, dry.messages)
        for name in ["cat-s1-fps6", "cat-s2-fps6", "cat-s1-fps8", "cat-s2-fps8"] {
            XCTAssertTrue(dry.output.contains("render    \(ws.url("out/\(name).mp4").standardizedFileURL.path)"), dry.output)
        }
        XCTAssertTrue(dry.output.contains("2 seeds × 2 combinations = 4 cells"), dry.output)
        XCTAssertTrue(dry.output.contains("cat-grid.mp4 and cat-grid.png: build"), dry.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("out").path))

        try FileManager.default.createDirectory(at: ws.url("out"), withIntermediateDirectories: true)
        let held = try RunLock.acquire(directory: ws.url("out"), shard: nil)
        let locked = sweep(ws, seeds: "1", vary: [])
        XCTAssertEqual(locked.result.status, .locked)
        XCTAssertEqual(ws.visibleFiles(in: "out"), [])
        held.release()
    }

    /// The top-left corner where `needle` appears pixel for pixel in `haystack`.
    static func locate(_ needle: RGBImage, in haystack: RGBImage) -> (x: Int, y: Int)? {
        let w = needle.width, h = needle.height
        guard haystack.width >= w, haystack.height >= h else { return nil }
        return needle.pixels.withUnsafeBufferPointer { n in
            haystack.pixels.withUnsafeBufferPointer { g in
                for y in 0...(haystack.height - h) {
                    for x in 0...(haystack.width - w) {
                        var match = true
                        rows: for row in 0..<h {
                            let a = (row * w) * 3, b = ((y + row) * haystack.width + x) * 3
                            for i in 0..<(w * 3) where n[a + i] != g[b + i] { match = false; break rows }
                        }
                        if match { return (x, y) }
                    }
                }
                return nil
            }
        }
    }

    /// Whether the region holds text-like (near white) pixels.
    static func hasBrightPixels(_ image: RGBImage, x: Range<Int>, y: Range<Int>) -> Bool {
        for row in y where row < image.height {
            for column in x where column < image.width {
                let i = (row * image.width + column) * 3
                if image.pixels[i] > 200 && image.pixels[i + 1] > 200 && image.pixels[i + 2] > 200 { return true }
            }
        }
        return false
    }
}
