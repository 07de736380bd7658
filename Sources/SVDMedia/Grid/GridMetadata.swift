import Foundation
import SVDCore

/// What a grid clip carries in its `comment` tag: its layout and, for every cell, the clip's name and
/// full recipe, so that any cell can be re-rendered from the grid alone.
public struct GridMetadata: Codable, Hashable, Sendable {
    public static let schemaVersion = 1

    /// Cell of a grid, in row-major order.
    public struct Cell: Codable, Hashable, Sendable {
        public var index: Int
        public var row: Int
        public var column: Int
        /// The clip's file name.
        public var file: String
        public var width: Int
        public var height: Int
        public var frames: Int
        /// The label drawn under (or above) the cell, lines joined by "\n".
        public var label: String
        /// The clip's recipe; nil for a clip that has none.
        public var recipe: Recipe?

        public init(index: Int, row: Int, column: Int, file: String, width: Int, height: Int, frames: Int,
                    label: String, recipe: Recipe?) {
            self.index = index
            self.row = row
            self.column = column
            self.file = file
            self.width = width
            self.height = height
            self.frames = frames
            self.label = label
            self.recipe = recipe
        }
    }

    /// The `"svdbatch_grid"` key: marks the comment as a grid's.
    public var schema: Int
    public var svdbatchVersion: String
    public var columns: Int
    public var rows: Int
    /// Always "row-major": cell i is at row i / columns, column i % columns.
    public var order: String
    /// The recipe keys shown in cell labels (empty: file names).
    public var labelKeys: [String]
    public var rowHeaders: [String]?
    public var columnHeaders: [String]?
    public var fit: Bool
    public var cellWidth: Int
    public var cellHeight: Int
    public var fps: Int
    public var frames: Int
    public var cells: [Cell]

    enum CodingKeys: String, CodingKey {
        case schema = "svdbatch_grid"
        case svdbatchVersion = "svdbatch_version"
        case columns, rows, order, fit, fps, frames, cells
        case labelKeys = "label_keys"
        case rowHeaders = "row_headers"
        case columnHeaders = "column_headers"
        case cellWidth = "cell_width"
        case cellHeight = "cell_height"
    }

    public init(columns: Int, rows: Int, labelKeys: [String], rowHeaders: [String]?, columnHeaders: [String]?,
                fit: Bool, cellWidth: Int, cellHeight: Int, fps: Int, frames: Int, cells: [Cell]) {
        schema = Self.schemaVersion
        svdbatchVersion = Recipe.toolVersion
        order = "row-major"
        self.columns = columns
        self.rows = rows
        self.labelKeys = labelKeys
        self.rowHeaders = rowHeaders
        self.columnHeaders = columnHeaders
        self.fit = fit
        self.cellWidth = cellWidth
        self.cellHeight = cellHeight
        self.fps = fps
        self.frames = frames
        self.cells = cells
    }

    /// One line of JSON with sorted keys, as recipes are stored.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads a grid's metadata from its `comment` tag; `file` names the grid in errors.
    public static func decode(comment: String?, file: String) throws -> GridMetadata {
        guard let comment, let root = try? JSONValue.parse(Data(comment.utf8)),
              let version = root[CodingKeys.schema.stringValue] else {
            throw GridMetadataError.notAGrid(path: file)
        }
        guard let schema = version.intValue, schema <= schemaVersion else {
            throw GridMetadataError.damaged(path: file, reason: "unsupported \"svdbatch_grid\" value \(version)")
        }
        do {
            return try JSONDecoder().decode(GridMetadata.self, from: Data(comment.utf8))
        } catch {
            throw GridMetadataError.damaged(path: file, reason: String(describing: error))
        }
    }
}

public enum GridMetadataError: Error, CustomStringConvertible, Equatable {
    case notAGrid(path: String)
    case damaged(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notAGrid(path): return "\(path) is not an svdbatch grid (its comment has no \"svdbatch_grid\" key)"
        case let .damaged(path, reason): return "\(path) has damaged grid metadata: \(reason)"
        }
    }
}
