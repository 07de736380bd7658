/// Colours and sizes of grids and contact sheets.
public struct GridStyle: Hashable, Sendable {
    /// Gutters and empty cells.
    public var background = RGBColor(12, 12, 12)
    /// Label strips and header boxes: dark, so white text reads on any clip.
    public var strip = RGBColor(40, 40, 40)
    public var text = RGBColor(255, 255, 255)
    /// Bars around clips letterboxed by `fit`.
    public var letterbox = RGBColor(0, 0, 0)
    public var labelPlacement = LabelPlacement.below
    /// Font scale; nil picks one from the cell width.
    public var textScale: Int? = nil
    /// Space between cells; nil: two font pixels.
    public var gutter: Int? = nil
    /// Contact-sheet frames wider than this are scaled down (aspect kept).
    public var maxThumbnailWidth = 512

    public init() {}

    public static let standard = GridStyle()

    /// Text about 1/50 of the cell wide per character at 1024 px (scale 3), never below 1 or above 4.
    public func textMetrics(cellWidth: Int) -> TextMetrics {
        TextMetrics(scale: textScale ?? max(1, min(4, (cellWidth + 128) / 320)))
    }

    public func gutter(for metrics: TextMetrics) -> Int { gutter ?? 2 * metrics.scale }
}

/// What `GridBuilder.build` makes: `svdbatch grid`'s options plus what `sweep` needs for labelled axes.
public struct GridOptions: Sendable {
    /// Columns; nil: ⌈√n⌉.
    public var columns: Int?
    /// Recipe values shown under each cell (see `RecipeValues`). nil: the parameters that differ between
    /// the clips (file names if none do); empty: no per-cell labels (e.g. when axis headers say it all).
    public var labelKeys: [String]?
    /// Scale clips of different sizes into the largest cell, letterboxed, instead of refusing them.
    public var fit: Bool
    /// Replace an existing grid and contact sheet.
    public var force: Bool
    /// The grid's frame rate; nil: the first clip's. Cells at other rates are resampled to it.
    public var fps: Int?
    /// One header per row, drawn left of it ("\n" breaks lines), e.g. the varied values of a sweep.
    public var rowHeaders: [String]?
    /// One header per column, drawn above it, e.g. "seed=1".
    public var columnHeaders: [String]?
    public var style: GridStyle

    public init(columns: Int? = nil, labelKeys: [String]? = nil, fit: Bool = false, force: Bool = false,
                fps: Int? = nil, rowHeaders: [String]? = nil, columnHeaders: [String]? = nil,
                style: GridStyle = .standard) {
        self.fps = fps
        self.columns = columns
        self.labelKeys = labelKeys
        self.fit = fit
        self.force = force
        self.rowHeaders = rowHeaders
        self.columnHeaders = columnHeaders
        self.style = style
    }
}
