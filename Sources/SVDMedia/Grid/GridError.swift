/// Why a grid could not be made. Every case names the file concerned and says what to do.
public enum GridError: Error, CustomStringConvertible {
    case noClips
    case invalidColumns(Int)
    case invalidFPS(Int)
    /// The output's extension names no clip format.
    case unsupportedFormat(path: String)
    /// Outputs that exist and would be replaced (the grid, its contact sheet, or both).
    case outputExists(paths: [String])
    /// The grid or its sheet would replace one of its own input clips.
    case outputIsInput(path: String)
    case unreadableClip(ClipReadError)
    /// The clip's comment looks like a recipe but cannot be read (clips with no recipe are fine).
    case unreadableRecipe(RecipeError)
    /// Clips of different sizes without `fit`.
    case sizeMismatch(clips: [(name: String, width: Int, height: Int)])
    case unknownLabelKeys([String], known: [String])
    case emptyLabelKey
    /// Axis headers given for the wrong number of rows or columns.
    case headerCount(axis: String, expected: Int, got: Int)
    /// The output's folder does not exist.
    case outputFolderMissing(path: String)
    /// Encoding or writing failed (disk full, permissions …): not a problem with the input. The
    /// underlying error names the file.
    case writeFailed(Error)

    /// The input or the request is at fault (as opposed to writing the result).
    public var isInputProblem: Bool {
        if case .writeFailed = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .noClips:
            return "no clips given: name at least one clip"
        case let .invalidFPS(fps):
            return "--fps \(fps) is outside 1–1000"
        case let .invalidColumns(n):
            return "\(n) columns: the column count must be at least 1"
        case let .unsupportedFormat(path):
            return "\(path): cannot tell the video format from the extension; end the name in "
                + ClipFormat.allCases.map { "." + $0.fileExtension }.joined(separator: ", ")
        case let .outputExists(paths):
            return paths.joined(separator: " and ") + (paths.count == 1 ? " already exists" : " already exist")
                + "; pass --force to replace, or choose another name"
        case let .outputIsInput(path):
            return "\(path) is one of the input clips; write the grid under another name"
        case let .unreadableClip(error):
            return String(describing: error)
        case let .unreadableRecipe(error):
            return String(describing: error)
        case let .sizeMismatch(clips):
            let sizes = clips.map { "\($0.name) is \($0.width)×\($0.height)" }.joined(separator: ", ")
            return "the clips differ in size (\(sizes)); pass --fit to letterbox them into the largest cell"
        case let .unknownLabelKeys(keys, known):
            return "no recipe has \(keys.map { "'\($0)'" }.joined(separator: ", ")); label keys are "
                + known.joined(separator: ", ") + ", or a dotted recipe path such as encoder.codec"
        case .emptyLabelKey:
            return "empty label key; give keys separated by commas, e.g. seed,motion_bucket_id"
        case let .headerCount(axis, expected, got):
            return "\(got) \(axis) headers for \(expected) \(axis)s; give one per \(axis)"
        case let .outputFolderMissing(path):
            return "\(path): the folder does not exist; create it first"
        case let .writeFailed(error):
            return String(describing: error)
        }
    }
}
