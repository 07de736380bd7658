import SVDCore

/// The parts of a grid frame that stay the same in every frame: background, cell label strips and axis
/// headers. Each grid frame starts as a copy of this canvas and gets the cells' pictures blitted in.
public enum GridCanvas {
    /// A label strip: `lines` in the text colour, centred on the strip colour.
    public static func labelStrip(lines: [String], width: Int, height: Int, metrics: TextMetrics,
                                  style: GridStyle) -> RGBImage {
        var strip = RGBImage.filled(width: width, height: height, color: style.strip)
        TextRenderer.drawCentred(lines, in: PixelRect(x: 0, y: 0, width: width, height: height), into: &strip,
                                 metrics: metrics, color: style.text)
        return strip
    }

    /// Height of a strip holding `lines` lines, padding included.
    public static func stripHeight(lines: Int, metrics: TextMetrics) -> Int {
        lines == 0 ? 0 : metrics.height(lines: lines) + 2 * metrics.padding
    }

    /// The static canvas for `layout`: `cellLabels[i]` are cell i's label lines (cells past the end stay
    /// background), headers are pre-wrapped lines per row and per column.
    public static func render(layout: GridLayout, cellLabels: [[String]], rowHeaders: [[String]]?,
                              columnHeaders: [[String]]?, metrics: TextMetrics, style: GridStyle) -> RGBImage {
        var canvas = RGBImage.filled(width: layout.width, height: layout.height, color: style.background)
        if layout.labelHeight > 0 {
            for (cell, lines) in cellLabels.enumerated() {
                let rect = layout.labelRect(cell: cell)
                canvas.blit(labelStrip(lines: lines, width: rect.width, height: rect.height, metrics: metrics,
                                       style: style), x: rect.x, y: rect.y)
            }
        }
        for (row, lines) in (rowHeaders ?? []).enumerated() {
            let rect = layout.rowHeaderRect(row: row)
            canvas.blit(labelStrip(lines: lines, width: rect.width, height: rect.height, metrics: metrics,
                                   style: style), x: rect.x, y: rect.y)
        }
        for (column, lines) in (columnHeaders ?? []).enumerated() {
            let rect = layout.columnHeaderRect(column: column)
            canvas.blit(labelStrip(lines: lines, width: rect.width, height: rect.height, metrics: metrics,
                                   style: style), x: rect.x, y: rect.y)
        }
        return canvas
    }
}
