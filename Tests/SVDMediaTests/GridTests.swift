import Foundation
import SVDCore
import TestSupport
import XCTest
@testable import SVDMedia

/// `GridBuilder` on small synthetic clips written as mkv (FFV1, lossless), so that every pixel of the
/// decoded grid can be checked exactly.
final class GridTests: XCTestCase {
    private var folder: ScratchDirectory!
    private var dir: URL { folder.url }
    private let style = GridStyle.standard

    override func setUpWithError() throws { folder = try ScratchDirectory("gridtests") }
    override func tearDown() { folder = nil }

    // MARK: fixtures

    /// Frame t of a clip of `base` colour: blue channel 20·t, so every frame of every clip is told apart.
    private static func colour(_ base: RGBColor, frame t: Int) -> RGBColor { RGBColor(base.r, base.g, UInt8(20 * t)) }

    private static func frames(_ base: RGBColor, count: Int, width: Int = 64, height: Int = 48) -> [RGBImage] {
        (0..<count).map { RGBImage.filled(width: width, height: height, color: colour(base, frame: $0)) }
    }

    private static func recipe(seed: UInt64, motion: Int = 127, frames: [RGBImage]) throws -> Recipe {
        let parameters = VideoParameters(seed: Seed(seed), numFrames: frames.count, width: frames[0].width,
                                         height: frames[0].height, numInferenceSteps: 4, fps: 7,
                                         motionBucketId: motion, decodeChunkSize: 8)
        let model = ModelRecord(name: "stabilityai/stable-video-diffusion-img2vid", variant: "fp16",
                                fingerprint: ModelFingerprint(files: ["unet/config.json": String(repeating: "1", count: 64)],
                                                                    sha256: String(repeating: "3", count: 64)))
        let input = InputRecord(name: "images/cat.png", path: "/data/images/cat.png",
                                fileSHA256: String(repeating: "4", count: 64),
                                pixelsSHA256: String(repeating: "5", count: 64), width: 64, height: 48)
        return try Recipe(model: model, input: input, parameters: RenderParameters(parameters),
                          encoder: try .standard(.mkv), framesSHA256: Digests.sha256Hex(frames: frames),
                          diagnostics: RecipeDiagnostics(cpu: "test CPU", blasCore: "Haswell", threads: 2))
    }

    /// Writes an mkv clip at 7 fps; with `seed`, carrying a recipe, else none.
    @discardableResult
    private func clip(_ name: String, _ frames: [RGBImage], seed: UInt64? = nil, motion: Int = 127,
                      fps: Int = 7) throws -> (url: URL, recipe: Recipe?) {
        let recipe = try seed.map { try Self.recipe(seed: $0, motion: motion, frames: frames) }
        let url = dir.appendingPathComponent(name)
        try ClipWriter.write(frames, fps: fps, settings: try .standard(.mkv), comment: try recipe?.json(), to: url)
        return (url, recipe)
    }

    private func grid(_ clips: [URL], name: String = "grid.mkv", _ options: GridOptions = GridOptions()) throws
        -> (result: GridResult, frames: [RGBImage], probe: ClipProbe) {
        let result = try GridBuilder.build(clips: clips, output: dir.appendingPathComponent(name), options: options)
        let decoded = try ClipReader.decode(result.output)
        return (result, decoded.frames, decoded.probe)
    }

    /// Every pixel of `rect` in `image` is `colour`.
    private func assertFilled(_ image: RGBImage, _ rect: PixelRect, _ colour: RGBColor, _ what: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        for y in rect.y..<rect.maxY {
            for x in rect.x..<rect.maxX where image.pixel(x: x, y: y) != colour {
                XCTFail("\(what): pixel (\(x), \(y)) is \(image.pixel(x: x, y: y)), expected \(colour)", file: file, line: line)
                return
            }
        }
    }

    /// Equal images; on a difference, reports the first differing pixel instead of both buffers.
    private func assertSameImage(_ image: RGBImage, _ expected: RGBImage, _ what: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
        guard image.width == expected.width, image.height == expected.height else {
            return XCTFail("\(what): \(image.width)×\(image.height), expected \(expected.width)×\(expected.height)",
                           file: file, line: line)
        }
        for y in 0..<image.height {
            for x in 0..<image.width where image.pixel(x: x, y: y) != expected.pixel(x: x, y: y) {
                return XCTFail("\(what): pixel (\(x), \(y)) is \(image.pixel(x: x, y: y)), expected \(expected.pixel(x: x, y: y))",
                               file: file, line: line)
            }
        }
    }

    private func gridError(_ body: () throws -> Any) -> GridError? {
        do {
            _ = try body()
            XCTFail("expected a GridError")
        } catch let error as GridError {
            return error
        } catch {
            XCTFail("expected a GridError, got \(error)")
        }
        return nil
    }

    private static let palette = [RGBColor(200, 30, 0), RGBColor(30, 200, 0), RGBColor(90, 90, 0), RGBColor(230, 230, 0),
                                  RGBColor(120, 0, 0)]

    // MARK: font and text

    func testGlyphRendererDrawsKnownPattern() {
        let a: [UInt8] = [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0]
        XCTAssertEqual(BitmapFont.glyph(for: "A").rows, a)
        XCTAssertEqual(BitmapFont.glyph(for: "_").rows.last, 0b11111, "underscore sits on the descender row")
        XCTAssertEqual(BitmapFont.glyph(for: "é"), BitmapFont.glyph(for: "?"))
        XCTAssertEqual(BitmapFont.glyph(for: "\t"), BitmapFont.glyph(for: "?"))
        XCTAssertFalse(BitmapFont.covers("é"))
        XCTAssertEqual(Set((32...126).map { BitmapFont.glyph(for: Character(UnicodeScalar(UInt8($0)))) }).count, 95,
                       "every printable ASCII character has its own glyph")

        // "A" at scale 2 with its top-left corner at (1, 1): each font pixel is a 2×2 block.
        let white = RGBColor(255, 255, 255), black = RGBColor(0, 0, 0)
        var image = RGBImage.filled(width: 14, height: 18, color: black)
        TextRenderer.draw("A", into: &image, x: 1, y: 1, metrics: TextMetrics(scale: 2), color: white)
        for y in 0..<18 {
            for x in 0..<14 {
                let (fx, fy) = ((x - 1) / 2, (y - 1) / 2)
                let ink = x >= 1 && y >= 1 && fx < 5 && fy < 8 && a[fy] & (0x10 >> UInt8(fx)) != 0
                XCTAssertEqual(image.pixel(x: x, y: y), ink ? white : black, "(\(x), \(y))")
            }
        }
        // Text running off the image is clipped, not a crash.
        var small = RGBImage.filled(width: 8, height: 4, color: black)
        TextRenderer.draw("WWW", into: &small, x: -3, y: -2, metrics: TextMetrics(scale: 1), color: white)
    }

    func testTextWrapping() {
        let m = TextMetrics(scale: 1)
        XCTAssertEqual(m.width(of: "seed=1"), 35)
        XCTAssertEqual(m.capacity(width: 58), 9)
        XCTAssertEqual(TextWrapper.lines(items: ["seed=1", "fps=7"], width: 200, metrics: m), ["seed=1  fps=7"])
        XCTAssertEqual(TextWrapper.lines(items: ["seed=1", "motion_bucket_id=180"], width: 58, metrics: m),
                       ["seed=1", "motion...", "180"])
        XCTAssertEqual(TextWrapper.lines(items: ["seed=1", "fps=7"], width: 70, metrics: m), ["seed=1", "fps=7"])
        XCTAssertEqual(TextWrapper.lines(items: ["a\nb"], width: 200, metrics: m), ["a", "b"])
    }

    func testResampling() {
        // Area averaging: 4×1 → 2×1 averages pairs; 3 → 1 averages all three.
        let row = RGBImage(width: 4, height: 1, pixels: [0, 0, 0, 100, 100, 100, 10, 20, 30, 30, 40, 50])
        XCTAssertEqual(Resampler.resize(row, width: 2, height: 1).pixels, [50, 50, 50, 20, 30, 40])
        let three = RGBImage(width: 3, height: 1, pixels: [0, 0, 0, 30, 30, 30, 90, 90, 90])
        XCTAssertEqual(Resampler.resize(three, width: 1, height: 1).pixels, [40, 40, 40])
        // Bilinear 2 → 4: edges clamp, inner pixels blend 3:1.
        let two = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 200, 200, 200])
        XCTAssertEqual(Resampler.resize(two, width: 4, height: 1).pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element),
                       [0, 50, 150, 200])
        XCTAssertTrue(Resampler.fittedSize(width: 32, height: 32, intoWidth: 64, height: 48) == (48, 48))
        XCTAssertTrue(Resampler.fittedSize(width: 1024, height: 576, intoWidth: 512, height: 512) == (512, 288))
        XCTAssertEqual(ContactSheet.frameIndices(frameCount: 25), [0, 6, 12, 18, 24])
        XCTAssertEqual(ContactSheet.frameIndices(frameCount: 7), [0, 2, 3, 5, 6], "halves round up")
        XCTAssertEqual(ContactSheet.frameIndices(frameCount: 1), [0, 0, 0, 0, 0])
    }

    // MARK: layout

    func testGridDimensionsWithDefaultAndExplicitColumns() throws {
        let clips = try (0..<5).map { try clip("c\($0).mkv", Self.frames(Self.palette[$0], count: 3), seed: UInt64($0)).url }
        // Scale 1 for 64-pixel cells: gutter 2, one label line → strip 8 + 2·3 = 14.
        for (columns, expected) in [(nil, (3, 2)), (2, (2, 3)), (5, (5, 1)), (7, (7, 1))] as [(Int?, (Int, Int))] {
            let (result, frames, probe) = try grid(clips, name: "g\(columns ?? 0).mkv",
                                                  GridOptions(columns: columns))
            let l = result.layout
            XCTAssertEqual(l.columns, expected.0)
            XCTAssertEqual(l.rows, expected.1)
            XCTAssertEqual(l.labelHeight, 14)
            XCTAssertEqual(l.width, 2 + expected.0 * (64 + 2))
            XCTAssertEqual(l.height, 2 + expected.1 * (48 + 14 + 2))
            XCTAssertEqual(probe.stream.width, l.width)
            XCTAssertEqual(probe.stream.height, l.height)
            XCTAssertEqual(frames.count, 3)
            XCTAssertEqual(probe.stream.frameRate, FrameRate(7, 1))
        }
        XCTAssertEqual(GridLayout.defaultColumns(for: 1), 1)
        XCTAssertEqual(GridLayout.defaultColumns(for: 4), 2)
        XCTAssertEqual(GridLayout.defaultColumns(for: 10), 4)
        if case .invalidColumns(0)? = gridError({ try self.grid(clips, name: "zero.mkv", GridOptions(columns: 0)) }) {} else {
            XCTFail("0 columns must be refused")
        }
    }

    /// Cells tile row-major, shorter clips hold their last frame, and clips at another frame rate than the grid's
    /// (the first clip's, 8 fps) are resampled in time: grid frame t shows their frame ⌊t · 7 / 8⌋.
    func testCellPlacementAndShorterClipsHoldTheirLastFrame() throws {
        let lengths = [6, 3, 6, 2, 4]
        let rates = [8, 7, 7, 7, 7]
        let clips = try lengths.enumerated().map { i, n in
            try clip("c\(i).mkv", Self.frames(Self.palette[i], count: n), seed: UInt64(i + 1), fps: rates[i]).url
        }
        let (result, frames, probe) = try grid(clips)  // 3 columns: cell 5 of the 3 × 2 grid stays empty
        XCTAssertEqual(frames.count, 7, "as long as the longest clip lasts: 6 frames at 7 fps are 7 at 8 fps")
        XCTAssertEqual(probe.stream.frameRate, FrameRate(8, 1), "the first clip's frame rate")
        XCTAssertEqual(result.metadata.fps, 8)
        XCTAssertEqual(result.resampled.map(\.file), ["c1.mkv", "c2.mkv", "c3.mkv", "c4.mkv"])
        let l = result.layout
        for (t, frame) in frames.enumerated() {
            for (i, n) in lengths.enumerated() {
                assertFilled(frame, l.pictureRect(cell: i), Self.colour(Self.palette[i], frame: min(t * rates[i] / 8, n - 1)),
                             "frame \(t), cell \(i)")
            }
            assertFilled(frame, l.pictureRect(cell: 5), style.background, "frame \(t), empty cell")
            assertFilled(frame, l.labelRect(cell: 5), style.background, "frame \(t), empty cell's label")
            assertFilled(frame, PixelRect(x: 0, y: 0, width: l.width, height: l.gutter), style.background, "top gutter")
            let between = l.pictureRect(cell: 0).maxX
            assertFilled(frame, PixelRect(x: between, y: 0, width: l.gutter, height: l.height), style.background,
                         "gutter between columns 0 and 1")
        }
    }

    // MARK: labels

    func testLabelsShowTheValuesThatDiffer() throws {
        let clips = try [1, 2, 3].map { try clip("s\($0).mkv", Self.frames(Self.palette[$0], count: 2), seed: UInt64($0)).url }
        let (result, frames, _) = try grid(clips)
        XCTAssertEqual(result.metadata.labelKeys, ["seed"], "only the seed differs")
        let l = result.layout
        let metrics = style.textMetrics(cellWidth: 64)
        var strips: [RGBImage] = []
        for (i, seed) in [1, 2, 3].enumerated() {
            let rect = l.labelRect(cell: i)
            XCTAssertEqual(rect.y, l.pictureRect(cell: i).maxY, "strip under the picture")
            let strip = frames.last!.cropped(to: rect)
            strips.append(strip)
            assertSameImage(strip, GridCanvas.labelStrip(lines: ["seed=\(seed)"], width: rect.width, height: rect.height,
                                                         metrics: metrics, style: style), "cell \(i) label")
            // Independently of the renderer: text-coloured pixels exist, and only inside the centred text box.
            let textWidth = metrics.width(of: "seed=\(seed)")
            let box = PixelRect(x: (rect.width - textWidth) / 2, y: (rect.height - metrics.glyphHeight) / 2,
                                width: textWidth, height: metrics.glyphHeight)
            var ink = 0
            for y in 0..<strip.height {
                for x in 0..<strip.width {
                    let p = strip.pixel(x: x, y: y)
                    if p == style.text {
                        ink += 1
                        XCTAssertTrue(box.contains(x: x, y: y), "text pixel outside the text box at (\(x), \(y))")
                    } else {
                        XCTAssertEqual(p, style.strip, "strip pixel (\(x), \(y))")
                    }
                }
            }
            XCTAssertGreaterThan(ink, 40, "cell \(i) label has text")
        }
        XCTAssertTrue(strips[0] != strips[1], "different values, different labels")

        // Explicit keys, in the order given; a clip without a recipe is labelled with its file name.
        let bare = try clip("bare.mkv", Self.frames(Self.palette[4], count: 2))
        let (explicit, eframes, _) = try grid(clips + [bare.url], name: "explicit.mkv",
                                              GridOptions(labelKeys: ["motion_bucket_id", "seed"]))
        XCTAssertEqual(explicit.metadata.labelKeys, ["motion_bucket_id", "seed"])
        XCTAssertEqual(explicit.metadata.cells.map(\.label),
                       ["motion_bucket_id=127  seed=1", "motion_bucket_id=127  seed=2", "motion_bucket_id=127  seed=3",
                        "bare.mkv"])
        let bareRect = explicit.layout.labelRect(cell: 3)
        let lines = TextWrapper.lines(items: ["bare.mkv"], width: 64 - 2 * metrics.padding, metrics: metrics)
        assertSameImage(eframes[0].cropped(to: bareRect),
                        GridCanvas.labelStrip(lines: lines, width: bareRect.width, height: bareRect.height,
                                              metrics: metrics, style: style), "file-name label")

        // Aliases and dotted paths resolve; a key no recipe has is refused, naming it.
        let values = RecipeValues(try XCTUnwrap(explicit.metadata.cells[0].recipe))
        XCTAssertEqual(values.value(of: "input"), "images/cat.png")
        XCTAssertEqual(values.value(of: "encoder.codec"), "ffv1")
        XCTAssertEqual(values.value(of: "noise_aug_strength"), "0.02")
        guard case let .unknownLabelKeys(keys, known)? = gridError({
            try GridBuilder.build(clips: clips, output: self.dir.appendingPathComponent("bad.mkv"),
                                  options: GridOptions(labelKeys: ["seed", "colour"]))
        }) else { return XCTFail("unknown key accepted") }
        XCTAssertEqual(keys, ["colour"])
        XCTAssertTrue(known.contains("motion_bucket_id"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.mkv").path))

        // No recipe differs from another (one clip): the label is the file name.
        let (single, _, _) = try grid([clips[0]], name: "single.mkv")
        XCTAssertEqual(single.metadata.labelKeys, [])
        XCTAssertEqual(single.metadata.cells[0].label, "s1.mkv")
    }

    func testLabelsAboveAndAxisHeaders() throws {
        let clips = try (0..<4).map {
            try clip("c\($0).mkv", Self.frames(Self.palette[$0], count: 2), seed: UInt64($0 % 2 + 1),
                     motion: $0 < 2 ? 60 : 180).url
        }
        var options = GridOptions(columns: 2, labelKeys: [], rowHeaders: ["motion_bucket_id=60", "motion_bucket_id=180"],
                                  columnHeaders: ["seed=1", "seed=2"])
        let (result, frames, _) = try grid(clips, options)
        let l = result.layout
        XCTAssertEqual(l.labelHeight, 0, "no per-cell labels")
        XCTAssertGreaterThan(l.rowHeaderWidth, 0)
        XCTAssertGreaterThan(l.columnHeaderHeight, 0)
        XCTAssertEqual(result.metadata.rowHeaders, options.rowHeaders)
        XCTAssertEqual(result.metadata.columnHeaders, options.columnHeaders)
        let metrics = style.textMetrics(cellWidth: 64)
        for (row, header) in options.rowHeaders!.enumerated() {
            let rect = l.rowHeaderRect(row: row)
            let lines = TextWrapper.lines(items: [header], width: metrics.advance * 20 - 2 * metrics.padding, metrics: metrics)
            XCTAssertEqual(lines, row == 0 ? ["motion_bucket_id=60"] : ["motion_bucket_id=", "180"])
            assertSameImage(frames[0].cropped(to: rect), GridCanvas.labelStrip(lines: lines, width: rect.width,
                            height: rect.height, metrics: metrics, style: style), "row header \(row)")
            XCTAssertLessThan(rect.maxX, l.pictureRect(cell: row * 2).x, "row header left of the row")
        }
        for (column, header) in options.columnHeaders!.enumerated() {
            let rect = l.columnHeaderRect(column: column)
            assertSameImage(frames[0].cropped(to: rect), GridCanvas.labelStrip(lines: [header], width: rect.width,
                            height: rect.height, metrics: metrics, style: style), "column header \(column)")
            XCTAssertLessThan(rect.maxY, l.pictureRect(cell: column).y, "column header above the column")
        }
        for i in 0..<4 { assertFilled(frames[1], l.pictureRect(cell: i), Self.colour(Self.palette[i], frame: 1), "cell \(i)") }

        // Labels above the pictures.
        var above = GridStyle()
        above.labelPlacement = .above
        let (top, topFrames, _) = try grid(clips, name: "above.mkv", GridOptions(labelKeys: ["seed"], style: above))
        XCTAssertEqual(top.layout.labelRect(cell: 0).maxY, top.layout.pictureRect(cell: 0).y)
        assertFilled(topFrames[0], top.layout.pictureRect(cell: 3), Self.colour(Self.palette[3], frame: 0), "cell 3")

        options.columnHeaders = ["seed=1"]
        guard case .headerCount("column", 2, 1)? = gridError({ try self.grid(clips, name: "h.mkv", options) }) else {
            return XCTFail("wrong header count accepted")
        }
    }

    // MARK: sizes

    func testDifferentSizesNeedFitWhichLetterboxes() throws {
        let red = try clip("red.mkv", Self.frames(RGBColor(200, 0, 0), count: 2))
        // 32×32: left half green, right half blue.
        var square = RGBImage.filled(width: 32, height: 32, color: RGBColor(0, 200, 0))
        square.fill(PixelRect(x: 16, y: 0, width: 16, height: 32), color: RGBColor(0, 0, 200))
        let small = try clip("small.mkv", [square, square, square])

        guard case let .sizeMismatch(sizes)? = gridError({ try self.grid([red.url, small.url]) }) else {
            return XCTFail("different sizes accepted without fit")
        }
        XCTAssertEqual(sizes.map(\.name), [red.url.path, small.url.path])
        let message = String(describing: GridError.sizeMismatch(clips: sizes))
        XCTAssertTrue(message.contains("red.mkv is 64×48") && message.contains("small.mkv is 32×32")
                      && message.contains("--fit"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("grid.mkv").path))

        let (result, frames, _) = try grid([red.url, small.url], GridOptions(fit: true))
        XCTAssertTrue(result.metadata.fit)
        XCTAssertEqual(result.layout.cellWidth, 64)
        XCTAssertEqual(result.layout.cellHeight, 48)
        XCTAssertEqual(result.metadata.cells[1].width, 32, "the metadata keeps the clip's own size")
        let a = result.layout.pictureRect(cell: 0), b = result.layout.pictureRect(cell: 1)
        assertFilled(frames[0], a, RGBColor(200, 0, 0), "the cell-sized clip is copied unchanged")
        // 32×32 scaled by 1.5 to 48×48, centred: bars of 8 on the left and right.
        assertFilled(frames[2], PixelRect(x: b.x, y: b.y, width: 8, height: 48), style.letterbox, "left bar")
        assertFilled(frames[2], PixelRect(x: b.x + 56, y: b.y, width: 8, height: 48), style.letterbox, "right bar")
        assertFilled(frames[2], PixelRect(x: b.x + 8, y: b.y, width: 23, height: 48), RGBColor(0, 200, 0), "left half")
        assertFilled(frames[2], PixelRect(x: b.x + 33, y: b.y, width: 23, height: 48), RGBColor(0, 0, 200), "right half")
        XCTAssertEqual(frames.count, 3)
    }

    // MARK: contact sheet

    func testContactSheetShowsFiveFramesPerClip() throws {
        let lengths = [9, 7, 1]
        let clips = try lengths.enumerated().map { i, n in
            try clip("c\(i).mkv", Self.frames(Self.palette[i], count: n), seed: UInt64(i)).url
        }
        let (result, _, _) = try grid(clips)
        XCTAssertEqual(result.metadata.labelKeys, ["seed", "num_frames"])
        XCTAssertEqual(result.contactSheet.lastPathComponent, "grid.png")
        let sheet = try ImageInput.load(path: result.contactSheet.path)
        let s = result.sheetLayout
        XCTAssertEqual(sheet.width, s.width)
        XCTAssertEqual(sheet.height, s.height)
        XCTAssertEqual(s.rows, 3)
        XCTAssertEqual(s.thumbnailWidth, 64, "small clips are shown at full size")
        XCTAssertEqual(sheet.width, s.gutter + 5 * (64 + s.gutter))
        let metrics = style.textMetrics(cellWidth: 64)
        for (row, n) in lengths.enumerated() {
            let indices = ContactSheet.frameIndices(frameCount: n)
            for k in 0..<5 {
                assertFilled(sheet, s.thumbnailRect(row: row, frame: k), Self.colour(Self.palette[row], frame: indices[k]),
                             "row \(row), frame \(k)")
            }
            let strip = s.labelRect(row: row)
            XCTAssertEqual(strip.maxY, s.thumbnailRect(row: row, frame: 0).y, "label above its row")
            let text = "c\(row).mkv  seed=\(row)  num_frames=\(n)"
            assertSameImage(sheet.cropped(to: strip),
                            GridCanvas.labelStrip(lines: [text], width: strip.width, height: strip.height,
                                                  metrics: metrics, style: style), "row \(row) label")
        }
    }

    func testLargeCellsGiveScaledThumbnailsAndLargerText() throws {
        let wide = try clip("wide.mkv", Self.frames(Self.palette[0], count: 2, width: 1024, height: 64), seed: 1)
        let (result, _, _) = try grid([wide.url])
        XCTAssertEqual(result.sheetLayout.thumbnailWidth, 512)
        XCTAssertEqual(result.sheetLayout.thumbnailHeight, 32)
        XCTAssertEqual(style.textMetrics(cellWidth: 1024).scale, 3)
        XCTAssertEqual(result.layout.gutter, 6)
        let sheet = try ImageInput.load(path: result.contactSheet.path)
        assertFilled(sheet, result.sheetLayout.thumbnailRect(row: 0, frame: 4), Self.colour(Self.palette[0], frame: 1),
                     "scaled thumbnail of a solid frame")
    }

    // MARK: metadata

    func testMetadataListsEveryCellWithItsFullRecipe() throws {
        let made = try (0..<3).map { try clip("m\($0).mkv", Self.frames(Self.palette[$0], count: 2 + $0), seed: UInt64(10 + $0),
                                              motion: 100 + $0) }
        let bare = try clip("plain.mkv", Self.frames(Self.palette[3], count: 2))
        let (result, _, probe) = try grid(made.map(\.url) + [bare.url], GridOptions(columns: 3))
        let metadata = try GridMetadata.decode(comment: probe.comment, file: "grid.mkv")
        XCTAssertEqual(metadata, result.metadata)
        XCTAssertEqual(metadata.schema, 1)
        XCTAssertEqual(metadata.order, "row-major")
        XCTAssertEqual(metadata.columns, 3)
        XCTAssertEqual(metadata.rows, 2)
        XCTAssertEqual(metadata.labelKeys, ["seed", "motion_bucket_id", "num_frames"])
        XCTAssertEqual(metadata.frames, 4)
        XCTAssertEqual(metadata.cells.map(\.file), ["m0.mkv", "m1.mkv", "m2.mkv", "plain.mkv"])
        XCTAssertEqual(metadata.cells.map(\.row), [0, 0, 0, 1])
        XCTAssertEqual(metadata.cells.map(\.column), [0, 1, 2, 0])
        XCTAssertEqual(metadata.cells.map(\.frames), [2, 3, 4, 2])
        for (cell, source) in zip(metadata.cells, made) {
            XCTAssertEqual(cell.recipe, source.recipe, "\(cell.file): the full recipe, enough to re-render it")
        }
        XCTAssertNil(metadata.cells[3].recipe)
        let raw = try JSONValue.parse(Data(try XCTUnwrap(probe.comment).utf8))
        XCTAssertEqual(raw["svdbatch_grid"]?.intValue, 1)
        XCTAssertEqual(raw["cells"]?.arrayValue?[1]["recipe"]?["parameters"]?["seed"]?.stringValue, "11")
        XCTAssertThrowsError(try Recipe.decode(comment: probe.comment, file: "grid.mkv"), "a grid is not a clip recipe")
        XCTAssertThrowsError(try GridMetadata.decode(comment: try made[0].recipe!.json(), file: "m0.mkv"))
    }

    // MARK: outputs

    /// --fps sets the grid's rate: a 7 fps and a 14 fps clip of one second each both last one second.
    func testGridFrameRateResamplesEveryCellToIt() throws {
        let slow = try clip("slow.mkv", Self.frames(Self.palette[0], count: 7), seed: 1, fps: 7).url
        let fast = try clip("fast.mkv", Self.frames(Self.palette[1], count: 12), seed: 2, fps: 14).url
        var options = GridOptions()
        options.fps = 14
        let (result, frames, probe) = try grid([slow, fast], options)
        XCTAssertEqual(probe.stream.frameRate, FrameRate(14, 1))
        XCTAssertEqual(frames.count, 14)
        XCTAssertEqual(result.resampled.map(\.file), ["slow.mkv"])
        for (t, frame) in frames.enumerated() {
            assertFilled(frame, result.layout.pictureRect(cell: 0), Self.colour(Self.palette[0], frame: min(t / 2, 6)), "slow, frame \(t)")
            assertFilled(frame, result.layout.pictureRect(cell: 1), Self.colour(Self.palette[1], frame: min(t, 11)), "fast, frame \(t)")
        }
        options.fps = 0
        XCTAssertEqual(gridError { try self.grid([slow], name: "zero.mkv", options) }.map { "\($0)" }, "--fps 0 is outside 1–1000")
    }

    func testExistingOutputsAreKeptWithoutForce() throws {
        let clips = try (0..<2).map { try clip("c\($0).mkv", Self.frames(Self.palette[$0], count: 2), seed: UInt64($0)).url }
        let output = dir.appendingPathComponent("grid.mkv"), sheet = dir.appendingPathComponent("grid.png")
        _ = try GridBuilder.build(clips: clips, output: output)
        let before = try Data(contentsOf: output), sheetBefore = try Data(contentsOf: sheet)

        guard case let .outputExists(paths)? = gridError({ try GridBuilder.build(clips: clips.reversed(), output: output) }) else {
            return XCTFail("overwrote without force")
        }
        XCTAssertEqual(paths, [output.path, sheet.path])
        try FileManager.default.removeItem(at: output)
        guard case let .outputExists(only)? = gridError({ try GridBuilder.build(clips: clips.reversed(), output: output) }) else {
            return XCTFail("an existing contact sheet alone must also stop the grid")
        }
        XCTAssertEqual(only, [sheet.path])
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "nothing written when refused")
        XCTAssertEqual(try Data(contentsOf: sheet), sheetBefore)

        let forced = try GridBuilder.build(clips: clips.reversed(), output: output, options: GridOptions(force: true))
        XCTAssertEqual(forced.metadata.cells.map(\.file), ["c1.mkv", "c0.mkv"])
        XCTAssertNotEqual(try Data(contentsOf: output), before)
        XCTAssertNotEqual(try Data(contentsOf: sheet), sheetBefore)

        // A grid never replaces its own inputs, even with force.
        guard case .outputIsInput? = gridError({
            try GridBuilder.build(clips: clips, output: clips[0], options: GridOptions(force: true))
        }) else { return XCTFail("input replaced") }
        guard case .unsupportedFormat? = gridError({ try GridBuilder.build(clips: clips, output: self.dir.appendingPathComponent("g.avi")) }) else {
            return XCTFail("unknown extension accepted")
        }
        guard case .unreadableClip? = gridError({
            try GridBuilder.build(clips: [clips[0], self.dir.appendingPathComponent("missing.mkv")],
                                  output: self.dir.appendingPathComponent("g2.mkv"))
        }) else { return XCTFail("missing clip accepted") }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(names, ["c0.mkv", "c1.mkv", "grid.mkv", "grid.png"], "no temporary files left")
    }

    func testLossyFormatsAndOddSizes() throws {
        // 63×47 clips make an odd canvas, padded to even for 4:2:0.
        let clips = try (0..<3).map { try clip("o\($0).mkv", Self.frames(Self.palette[$0], count: 4, width: 63, height: 47),
                                               seed: UInt64($0)).url }
        for format in [ClipFormat.mp4, .webm] {
            let result = try GridBuilder.build(clips: clips, output: dir.appendingPathComponent("grid-\(format.rawValue).\(format.rawValue)"))
            let probe = try ClipReader.probe(result.output)
            XCTAssertEqual(probe.stream.width % 2, 0)
            XCTAssertEqual(probe.stream.height % 2, 0)
            XCTAssertEqual(probe.stream.codec, format == .mp4 ? "h264" : "vp9")
            XCTAssertEqual(try GridMetadata.decode(comment: probe.comment, file: result.output.path), result.metadata)
            print("grid \(format.rawValue): \(probe.stream.width)×\(probe.stream.height)")
        }
    }

    // MARK: the grid command

    func testGridCommandExitCodes() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("svdbatch")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("svdbatch binary not built next to the tests (\(binary.path))")
        }
        let a = try clip("a.mkv", Self.frames(Self.palette[0], count: 2), seed: 1).url
        let b = try clip("b.mkv", Self.frames(Self.palette[1], count: 2), seed: 2).url
        let small = try clip("small.mkv", Self.frames(Self.palette[2], count: 2, width: 32, height: 32)).url
        let out = dir.appendingPathComponent("cmp.mkv").path

        var (status, stdout, stderr) = try ClipTests.run(binary.path, ["grid", a.path, b.path, "--out", out, "--cols", "1",
                                                                        "--label", "seed, motion_bucket_id"])
        XCTAssertEqual(status, 0, stderr)
        XCTAssertTrue(stdout.contains("1 × 2 grid of 2 clips") && stdout.contains("labels: seed, motion_bucket_id"), stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cmp.png").path))

        for (args, mentions) in [
            (["grid", a.path, b.path, "--out", out], "cmp.mkv"),
            (["grid", a.path, small.path, "--out", dir.appendingPathComponent("x.mkv").path], "small.mkv"),
            (["grid", a.path, dir.appendingPathComponent("nope.mp4").path, "--out", dir.appendingPathComponent("y.mp4").path], "nope.mp4"),
            (["grid", a.path, "--out", dir.appendingPathComponent("z.gif").path], "z.gif"),
            (["grid", a.path, "--out", dir.appendingPathComponent("w.mp4").path, "--label", "colour"], "colour"),
            (["grid", "--out", dir.appendingPathComponent("v.mp4").path], "no clips"),
        ] {
            (status, stdout, stderr) = try ClipTests.run(binary.path, args)
            XCTAssertEqual(status, 2, "\(args): \(stderr)")
            XCTAssertTrue(stderr.contains(mentions), "stderr must name \(mentions): \(stderr)")
            XCTAssertEqual(stdout, "")
        }
        (status, _, stderr) = try ClipTests.run(binary.path, ["grid", a.path, small.path, "--out", out, "--fit", "--force"])
        XCTAssertEqual(status, 0, stderr)
        (status, stdout, _) = try ClipTests.run(binary.path, ["grid", "--help"])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(stdout.contains("Example") && stdout.contains("--fit"), stdout)
    }
}
