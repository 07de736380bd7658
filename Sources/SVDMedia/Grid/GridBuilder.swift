import Foundation
import SVDCore

/// What `GridBuilder.build` made.
public struct GridResult: Sendable {
    public let output: URL
    public let contactSheet: URL
    public let format: ClipFormat
    public let layout: GridLayout
    public let sheetLayout: ContactSheet.Layout
    /// Also stored in the grid's `comment` tag.
    public let metadata: GridMetadata
    public let bytes: Int
    public let timings: Timings
    /// Cells whose frame rate differed from the grid's, each with its rate: resampled in time (frames repeated
    /// or dropped, so each plays at its own speed).
    public let resampled: [(file: String, fps: Int)]

    public struct Timings: Sendable {
        /// Probing and decoding the clips.
        public var decodeSeconds: Double
        /// Scaling, tiling and drawing labels.
        public var composeSeconds: Double
        /// Encoding and writing the grid clip and the PNG.
        public var encodeSeconds: Double
    }
}

/// Tiles clips frame by frame into one clip with labelled cells, plus a PNG contact sheet, for
/// `svdbatch grid` and `svdbatch sweep`.
public enum GridBuilder {
    /// Builds the grid clip at `output` (format from its extension) and its contact sheet (`output` with
    /// extension `.png`). Cells are the clips in order, row-major. The grid runs as long as the longest clip
    /// (shorter ones hold their last frame) at `options.fps`, else the first clip's frame rate; a clip at another
    /// rate is resampled in time (each grid frame shows the clip's frame of that moment), so it keeps its speed. Both files appear atomically;
    /// existing ones are replaced only with `options.force`. Throws `GridError`.
    public static func build(clips: [URL], output: URL, options: GridOptions = GridOptions()) throws -> GridResult {
        let started = Date()
        guard !clips.isEmpty else { throw GridError.noClips }
        let columns = options.columns ?? GridLayout.defaultColumns(for: clips.count)
        guard columns >= 1 else { throw GridError.invalidColumns(columns) }
        let out = try GridOutput(video: output)
        try out.check(inputs: clips, force: options.force)
        if let keys = options.labelKeys, keys.contains(where: \.isEmpty) { throw GridError.emptyLabelKey }

        let sources = try GridSource.load(clips)
        let cell = try GridSource.cellSize(sources, fit: options.fit)
        let labels = try GridLabels(sources: sources, keys: options.labelKeys)
        let style = options.style
        let metrics = style.textMetrics(cellWidth: cell.width)
        let plan = try GridPlan(sources: sources, cell: cell, columns: columns, labels: labels, options: options,
                                metrics: metrics)
        let layout = plan.layout
        let fps = options.fps ?? sources[0].fps
        guard fps >= 1 && fps <= 1000 else { throw GridError.invalidFPS(fps) }
        // As long as the longest clip lasts, in grid frames.
        let frameCount = sources.map { ($0.probe.stream.frameCount * fps + $0.fps - 1) / $0.fps }.max()!

        var tick = Date()
        let canvas = GridCanvas.render(layout: layout, cellLabels: plan.cellLines, rowHeaders: plan.rowHeaderLines,
                                       columnHeaders: plan.columnHeaderLines, metrics: metrics, style: style)
        var composeSeconds = Date().timeIntervalSince(tick)
        let tiled = try tile(sources, canvas: canvas, frameCount: frameCount, fps: fps, plan: plan, fit: options.fit,
                             style: style, composeSeconds: &composeSeconds)
        tick = Date()
        let sheet = ContactSheet.render(layout: plan.sheetLayout, labels: plan.sheetLines, thumbnails: tiled.thumbnails,
                                        metrics: plan.sheetMetrics, style: style)
        composeSeconds += Date().timeIntervalSince(tick)
        let decodeSeconds = Date().timeIntervalSince(started) - composeSeconds

        tick = Date()
        let metadata = plan.metadata(sources: sources, frameCounts: tiled.frameCounts, fit: options.fit, fps: fps,
                                     frames: frameCount)
        let bytes = try write(tiled.frames, sheet: sheet, metadata: metadata, fps: fps, to: out, force: options.force)
        return GridResult(output: out.video, contactSheet: out.sheet, format: out.format, layout: layout,
                          sheetLayout: plan.sheetLayout, metadata: metadata, bytes: bytes,
                          timings: .init(decodeSeconds: decodeSeconds, composeSeconds: composeSeconds,
                                         encodeSeconds: Date().timeIntervalSince(tick)),
                          resampled: sources.filter { $0.fps != fps }.map { ($0.url.lastPathComponent, $0.fps) })
    }

    /// Decodes the clips one at a time and blits each into every grid frame (each a copy of `canvas`),
    /// holding a short clip's last frame, so memory holds the grid plus one clip. Also returns each clip's
    /// contact-sheet thumbnails and decoded frame count. Time spent outside decoding adds to `composeSeconds`.
    private static func tile(_ sources: [GridSource], canvas: RGBImage, frameCount: Int, fps: Int, plan: GridPlan, fit: Bool,
                             style: GridStyle, composeSeconds: inout Double) throws
        -> (frames: [RGBImage], thumbnails: [[RGBImage]], frameCounts: [Int]) {
        var frames = [RGBImage](repeating: canvas, count: frameCount)
        var thumbnails: [[RGBImage]] = []
        var frameCounts: [Int] = []
        let cell = (width: plan.layout.cellWidth, height: plan.layout.cellHeight)
        let thumb = (width: plan.sheetLayout.thumbnailWidth, height: plan.sheetLayout.thumbnailHeight)
        for (index, source) in sources.enumerated() {
            let decoded: DecodedClip
            do { decoded = try ClipReader.decode(source.url) } catch let error as ClipReadError {
                throw GridError.unreadableClip(error)
            }
            let tick = Date()
            let pictures = fit
                ? decoded.frames.map { Resampler.letterbox($0, width: cell.width, height: cell.height, fill: style.letterbox) }
                : decoded.frames
            let rect = plan.layout.pictureRect(cell: index)
            for t in 0..<frameCount {
                // The clip's frame showing at grid time t / fps (the same index when the rates agree).
                frames[t].blit(pictures[min(t * source.fps / fps, pictures.count - 1)], x: rect.x, y: rect.y)
            }
            thumbnails.append(ContactSheet.frameIndices(frameCount: pictures.count).map {
                Resampler.resize(pictures[$0], width: thumb.width, height: thumb.height)
            })
            frameCounts.append(pictures.count)
            composeSeconds += Date().timeIntervalSince(tick)
        }
        return (frames, thumbnails, frameCounts)
    }

    /// Sheet to a temporary file, then the clip (atomic), then the sheet into place: a failed clip
    /// leaves neither file behind.
    private static func write(_ frames: [RGBImage], sheet: RGBImage, metadata: GridMetadata, fps: Int,
                              to out: GridOutput, force: Bool) throws -> Int {
        let png: [UInt8]
        let comment: String
        let settings: EncoderSettings
        do {
            png = try PNGWriter.encode(sheet)
            comment = try metadata.json()
            settings = try EncoderSettings.standard(out.format)
        } catch {
            throw GridError.writeFailed(error)
        }
        let staged = try out.stageSheet(png)
        let bytes: Int
        do {
            bytes = try ClipWriter.write(frames, fps: fps, settings: settings, comment: comment, to: out.video,
                                         overwrite: force)
        } catch {
            unlink(staged.path)
            throw GridOutput.gridError(error)
        }
        try out.publishSheet(staged, force: force)
        return bytes
    }
}
