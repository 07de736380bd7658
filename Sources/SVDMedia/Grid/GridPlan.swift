/// Everything decided before decoding: the grid and contact-sheet geometry and every text, wrapped.
struct GridPlan {
    let layout: GridLayout
    let cellLines: [[String]]
    let rowHeaderLines: [[String]]?
    let columnHeaderLines: [[String]]?
    let sheetLayout: ContactSheet.Layout
    let sheetLines: [[String]]
    let sheetMetrics: TextMetrics
    let labels: GridLabels
    let rowHeaders: [String]?
    let columnHeaders: [String]?

    init(sources: [GridSource], cell: (width: Int, height: Int), columns: Int, labels: GridLabels,
         options: GridOptions, metrics: TextMetrics) throws {
        let style = options.style
        let rows = (sources.count + columns - 1) / columns
        if let headers = options.rowHeaders, headers.count != rows {
            throw GridError.headerCount(axis: "row", expected: rows, got: headers.count)
        }
        if let headers = options.columnHeaders, headers.count != columns {
            throw GridError.headerCount(axis: "column", expected: columns, got: headers.count)
        }
        let textWidth = cell.width - 2 * metrics.padding
        let cellLines = labels.showsCellLabels
            ? labels.cellItems.map { TextWrapper.lines(items: $0, width: textWidth, metrics: metrics) } : []
        // Row headers may take half a cell's width, and at least 20 characters ("motion_bucket_id=180"),
        // before wrapping.
        let rowHeaderText = max(cell.width / 2, metrics.advance * 20) - 2 * metrics.padding
        let rowHeaderLines = options.rowHeaders?.map {
            TextWrapper.lines(items: [$0], width: rowHeaderText, metrics: metrics)
        }
        let columnHeaderLines = options.columnHeaders?.map {
            TextWrapper.lines(items: [$0], width: textWidth, metrics: metrics)
        }
        let rowHeaderWidth = rowHeaderLines.map { all in
            all.flatMap { $0 }.map(metrics.width(of:)).max()! + 2 * metrics.padding
        } ?? 0
        layout = GridLayout(
            cellCount: sources.count, columns: columns, cellWidth: cell.width, cellHeight: cell.height,
            labelHeight: GridCanvas.stripHeight(lines: cellLines.map(\.count).max() ?? 0, metrics: metrics),
            labelPlacement: style.labelPlacement, gutter: style.gutter(for: metrics), rowHeaderWidth: rowHeaderWidth,
            columnHeaderHeight: GridCanvas.stripHeight(lines: columnHeaderLines?.map(\.count).max() ?? 0,
                                                       metrics: metrics))
        self.cellLines = cellLines
        self.rowHeaderLines = rowHeaderLines
        self.columnHeaderLines = columnHeaderLines

        let thumb = ContactSheet.Layout.thumbnailSize(cellWidth: cell.width, cellHeight: cell.height,
                                                      maxWidth: style.maxThumbnailWidth)
        let sheetMetrics = style.textMetrics(cellWidth: thumb.width)
        let sheetGutter = style.gutter(for: sheetMetrics)
        let stripWidth = ContactSheet.framesPerRow * (thumb.width + sheetGutter) - sheetGutter
        let sheetLines = labels.sheetItems.map {
            TextWrapper.lines(items: $0, width: stripWidth - 2 * sheetMetrics.padding, metrics: sheetMetrics)
        }
        sheetLayout = ContactSheet.Layout(
            rows: sources.count, thumbnailWidth: thumb.width, thumbnailHeight: thumb.height,
            labelHeight: GridCanvas.stripHeight(lines: sheetLines.map(\.count).max()!, metrics: sheetMetrics),
            gutter: sheetGutter)
        self.sheetMetrics = sheetMetrics
        self.sheetLines = sheetLines
        self.labels = labels
        rowHeaders = options.rowHeaders
        columnHeaders = options.columnHeaders
    }

    func metadata(sources: [GridSource], frameCounts: [Int], fit: Bool, fps: Int, frames: Int) -> GridMetadata {
        let cells = sources.enumerated().map { i, source in
            GridMetadata.Cell(index: i, row: layout.row(of: i), column: layout.column(of: i), file: source.name,
                              width: source.width, height: source.height, frames: frameCounts[i],
                              label: labels.showsCellLabels ? labels.cellItems[i].joined(separator: "  ") : "",
                              recipe: source.recipe)
        }
        return GridMetadata(columns: layout.columns, rows: layout.rows,
                            labelKeys: labels.showsCellLabels ? labels.keys : [], rowHeaders: rowHeaders,
                            columnHeaders: columnHeaders, fit: fit, cellWidth: layout.cellWidth,
                            cellHeight: layout.cellHeight, fps: fps, frames: frames, cells: cells)
    }
}
