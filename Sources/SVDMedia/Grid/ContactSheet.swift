import SVDCore

/// A still overview of the grid's clips: one row per clip, `framesPerRow` evenly spaced frames, each row
/// under a label strip naming the clip and its label values.
public enum ContactSheet {
    public static let framesPerRow = 5

    /// Frames round((n − 1)·k / 4) for k = 0…4: first, last and three evenly between.
    public static func frameIndices(frameCount n: Int) -> [Int] {
        let steps = framesPerRow - 1
        // Integer form of round-half-up, so no floating-point tie can go either way.
        return (0...steps).map { k in (2 * (n - 1) * k + steps) / (2 * steps) }
    }

    /// Geometry of a sheet of `rows` clips.
    public struct Layout: Hashable, Sendable {
        public let rows: Int
        public let thumbnailWidth: Int
        public let thumbnailHeight: Int
        public let labelHeight: Int
        public let gutter: Int

        public init(rows: Int, thumbnailWidth: Int, thumbnailHeight: Int, labelHeight: Int, gutter: Int) {
            self.rows = rows
            self.thumbnailWidth = thumbnailWidth
            self.thumbnailHeight = thumbnailHeight
            self.labelHeight = labelHeight
            self.gutter = gutter
        }

        /// Thumbnails no wider than `maxWidth`, with the cell's aspect ratio.
        public static func thumbnailSize(cellWidth: Int, cellHeight: Int, maxWidth: Int) -> (width: Int, height: Int) {
            guard cellWidth > maxWidth else { return (cellWidth, cellHeight) }
            return (maxWidth, max(1, (2 * cellHeight * maxWidth + cellWidth) / (2 * cellWidth)))
        }

        var rowHeight: Int { labelHeight + thumbnailHeight + gutter }
        public var width: Int { gutter + ContactSheet.framesPerRow * (thumbnailWidth + gutter) }
        public var height: Int { gutter + rows * rowHeight }

        /// The label strip across the top of `row`.
        public func labelRect(row: Int) -> PixelRect {
            PixelRect(x: gutter, y: gutter + row * rowHeight, width: width - 2 * gutter, height: labelHeight)
        }

        /// The `k`-th frame of `row`.
        public func thumbnailRect(row: Int, frame k: Int) -> PixelRect {
            PixelRect(x: gutter + k * (thumbnailWidth + gutter), y: gutter + row * rowHeight + labelHeight,
                      width: thumbnailWidth, height: thumbnailHeight)
        }
    }

    /// Draws the sheet: `labels[r]` are row r's label lines, `thumbnails[r]` its frames at thumbnail size.
    public static func render(layout: Layout, labels: [[String]], thumbnails: [[RGBImage]], metrics: TextMetrics,
                              style: GridStyle) -> RGBImage {
        var sheet = RGBImage.filled(width: layout.width, height: layout.height, color: style.background)
        for row in 0..<layout.rows {
            let strip = layout.labelRect(row: row)
            sheet.blit(GridCanvas.labelStrip(lines: labels[row], width: strip.width, height: strip.height,
                                             metrics: metrics, style: style), x: strip.x, y: strip.y)
            for (k, thumbnail) in thumbnails[row].enumerated() {
                let rect = layout.thumbnailRect(row: row, frame: k)
                sheet.blit(thumbnail, x: rect.x, y: rect.y)
            }
        }
        return sheet
    }
}
