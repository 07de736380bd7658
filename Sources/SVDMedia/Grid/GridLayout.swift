/// Where a cell's label strip sits relative to its picture.
public enum LabelPlacement: String, Codable, Sendable {
    case below, above
}

/// The geometry of a grid: where every cell's picture and label strip and every axis header go.
/// Pure arithmetic, shared by rendering and tests.
///
///     gutter | row header | gutter | cell | gutter | cell | gutter …
///
/// Cells are filled row-major. The canvas is rounded up to even sizes (4:2:0 video needs them); the extra
/// column or row is background.
public struct GridLayout: Hashable, Sendable {
    public let cellCount: Int
    public let columns: Int
    public let rows: Int
    /// The picture area of every cell (the clips' size, or the largest with `fit`).
    public let cellWidth: Int
    public let cellHeight: Int
    /// Height of each cell's label strip; 0 without per-cell labels.
    public let labelHeight: Int
    public let labelPlacement: LabelPlacement
    public let gutter: Int
    /// Width of the row-header column; 0 without row headers.
    public let rowHeaderWidth: Int
    /// Height of the column-header row; 0 without column headers.
    public let columnHeaderHeight: Int

    public init(cellCount: Int, columns: Int, cellWidth: Int, cellHeight: Int, labelHeight: Int,
                labelPlacement: LabelPlacement = .below, gutter: Int, rowHeaderWidth: Int = 0,
                columnHeaderHeight: Int = 0) {
        precondition(cellCount > 0 && columns > 0 && cellWidth > 0 && cellHeight > 0 && gutter >= 0)
        self.cellCount = cellCount
        self.columns = columns
        self.rows = (cellCount + columns - 1) / columns
        self.cellWidth = cellWidth
        self.cellHeight = cellHeight
        self.labelHeight = labelHeight
        self.labelPlacement = labelPlacement
        self.gutter = gutter
        self.rowHeaderWidth = rowHeaderWidth
        self.columnHeaderHeight = columnHeaderHeight
    }

    /// ⌈√n⌉: the squarest grid with no more columns than rows.
    public static func defaultColumns(for count: Int) -> Int {
        var c = 1
        while c * c < count { c += 1 }
        return c
    }

    /// Picture plus label strip.
    public var cellBlockHeight: Int { cellHeight + labelHeight }

    private var originX: Int { gutter + (rowHeaderWidth > 0 ? rowHeaderWidth + gutter : 0) }
    private var originY: Int { gutter + (columnHeaderHeight > 0 ? columnHeaderHeight + gutter : 0) }

    public var width: Int { even(originX + columns * (cellWidth + gutter)) }
    public var height: Int { even(originY + rows * (cellBlockHeight + gutter)) }

    public func row(of cell: Int) -> Int { cell / columns }
    public func column(of cell: Int) -> Int { cell % columns }

    /// Picture and label strip of the cell at `row`, `column` (which may be an empty cell past the last clip).
    public func blockRect(row: Int, column: Int) -> PixelRect {
        PixelRect(x: originX + column * (cellWidth + gutter), y: originY + row * (cellBlockHeight + gutter),
                  width: cellWidth, height: cellBlockHeight)
    }

    public func pictureRect(cell: Int) -> PixelRect {
        let block = blockRect(row: row(of: cell), column: column(of: cell))
        let y = labelPlacement == .above ? block.y + labelHeight : block.y
        return PixelRect(x: block.x, y: y, width: cellWidth, height: cellHeight)
    }

    public func labelRect(cell: Int) -> PixelRect {
        let block = blockRect(row: row(of: cell), column: column(of: cell))
        let y = labelPlacement == .above ? block.y : block.y + cellHeight
        return PixelRect(x: block.x, y: y, width: cellWidth, height: labelHeight)
    }

    /// Header left of `row`, as tall as the row's cells; empty without row headers.
    public func rowHeaderRect(row: Int) -> PixelRect {
        PixelRect(x: gutter, y: blockRect(row: row, column: 0).y, width: rowHeaderWidth, height: cellBlockHeight)
    }

    /// Header above `column`, as wide as its cells; empty without column headers.
    public func columnHeaderRect(column: Int) -> PixelRect {
        PixelRect(x: blockRect(row: 0, column: column).x, y: gutter, width: cellWidth, height: columnHeaderHeight)
    }

    private func even(_ n: Int) -> Int { n + (n & 1) }
}
