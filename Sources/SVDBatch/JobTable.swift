import CSV
import SVDCore
import Foundation

/// The columns a job list may have. Everything but `image` and `seed` is optional and overrides a default.
public enum JobColumn: String, CaseIterable, Sendable {
    case image, seed, name, model, width, height, format
    case numFrames = "num_frames"
    case numInferenceSteps = "num_inference_steps"
    case fps
    case motionBucketId = "motion_bucket_id"
    case noiseAugStrength = "noise_aug_strength"
    case minGuidanceScale = "min_guidance_scale"
    case maxGuidanceScale = "max_guidance_scale"
    case decodeChunkSize = "decode_chunk_size"

    public static let required: [JobColumn] = [.image, .seed]
    public static var knownNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// The column a misspelt name most likely means: the same after spaces and hyphens become underscores, a
    /// column it begins, or one within two edits; nil when none is close.
    public static func nearest(to name: String) -> JobColumn? {
        let typed = name.lowercased().replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")
        if let exact = JobColumn(rawValue: typed) { return exact }
        if typed.count >= 3, let prefixed = allCases.first(where: { $0.rawValue.hasPrefix(typed) }) { return prefixed }
        let scored = allCases.map { ($0, editDistance(typed, $0.rawValue)) }.min { $0.1 < $1.1 }
        guard let (column, distance) = scored, distance <= min(2, typed.count / 3) else { return nil }
        return column
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}

/// Why a job list cannot be used at all (the run exits with status 2). Every case names the file.
public enum JobTableError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case notUTF8(path: String, detail: String)
    case noHeader(path: String)
    case emptyColumnName(path: String, position: Int)
    case duplicateColumn(path: String, column: String)
    case unknownColumns(path: String, columns: [String])
    case missingColumns(path: String, columns: [String])

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read the job list: \(reason)"
        case let .notUTF8(path, detail):
            return "\(path): the job list is not UTF-8 text (\(detail)); save it as \"CSV UTF-8\""
        case let .noHeader(path):
            return "\(path): the job list is empty; its first line must name the columns, e.g. image,seed"
        case let .emptyColumnName(path, position):
            return "\(path):1: column \(position) of the header has no name; remove it or name it (known columns: \(JobColumn.knownNames))"
        case let .duplicateColumn(path, column):
            return "\(path):1: column '\(column)' appears more than once in the header; keep one"
        case let .unknownColumns(path, columns):
            let list = columns.map { name in
                JobColumn.nearest(to: name).map { "'\(name)' (did you mean '\($0.rawValue)'?)" } ?? "'\(name)'"
            }.joined(separator: ", ")
            return "\(path):1: unknown column\(columns.count == 1 ? "" : "s") \(list); the known columns are \(JobColumn.knownNames)"
        case let .missingColumns(path, columns):
            return "\(path):1: the header lacks the required column\(columns.count == 1 ? "" : "s") \(columns.joined(separator: ", ")); every job list needs image and seed"
        }
    }
}

/// One data record of the job list: the line it starts on and its cells by column. Cells are trimmed of
/// surrounding spaces and tabs; a column missing from a short record reads as empty (= the default).
public struct JobRow: Sendable, Equatable {
    public let line: Int
    public let cells: [JobColumn: String]
    /// Set when the record has more fields than the header (usually an unquoted comma in a value).
    public let extraFields: Int

    public init(line: Int, cells: [JobColumn: String], extraFields: Int = 0) {
        self.line = line
        self.cells = cells
        self.extraFields = extraFields
    }

    /// The cell's text, or nil when it is empty or the column is absent.
    public subscript(_ column: JobColumn) -> String? {
        guard let value = cells[column], !value.isEmpty else { return nil }
        return value
    }
}

/// A job list read from CSV (RFC 4180: quoted fields with commas, doubled quotes and line breaks; an
/// optional UTF-8 BOM; LF or CRLF line ends). Blank records are skipped. Line numbers are the physical lines
/// where records start, counting line breaks inside quoted fields, so error messages point at the right line.
public struct JobTable: Sendable {
    /// The file as the user named it (for messages).
    public let path: String
    /// The header's columns, in file order.
    public let columns: [JobColumn]
    public let rows: [JobRow]

    /// The largest job list read (about 2 million rows of typical length).
    public static let maximumBytes = 256 << 20

    public static func load(path: String) throws -> JobTable {
        try load(URL(fileURLWithPath: path), path: path)
    }

    /// Reads `url`; messages name the file as `path` (the spelling the user gave, e.g. relative to `--cwd`).
    public static func load(_ url: URL, path: String) throws -> JobTable {
        let data: Data
        do { data = try RegularFile.read(url, limit: maximumBytes) } catch let error as RegularFileError {
            throw JobTableError.unreadable(path: path, reason: error.reason)
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws -> JobTable {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            throw JobTableError.notUTF8(path: path, detail: "it starts with a UTF-16 byte order mark")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw JobTableError.notUTF8(path: path, detail: "it holds byte sequences that are not UTF-8")
        }
        let records = try readRecords(text, delimiter: delimiter(of: text), path: path)
        guard let header = records.first(where: { !$0.isBlank && !$0.isComment }) else { throw JobTableError.noHeader(path: path) }
        let columns = try headerColumns(header.fields, path: path)
        var rows: [JobRow] = []
        for record in records where record.line > header.line && !record.isBlank && !record.isComment {
            var cells: [JobColumn: String] = [:]
            for (column, value) in zip(columns, record.fields) { cells[column] = trim(value) }
            rows.append(JobRow(line: record.line, cells: cells, extraFields: max(0, record.fields.count - columns.count)))
        }
        return JobTable(path: path, columns: columns, rows: rows)
    }

    struct Record {
        let line: Int
        let fields: [String]
        var isBlank: Bool { fields.allSatisfy { trim($0).isEmpty } }
        /// A line whose first cell starts with `#` is a comment (a note in the job list, or a row switched off).
        var isComment: Bool { fields.first.map { trim($0).hasPrefix("#") } ?? false }
    }

    /// The field separator: a comma, unless the header line has none and has semicolons (spreadsheets in locales
    /// with a decimal comma save "CSV" so) or tabs.
    static func delimiter(of text: String) -> UnicodeScalar {
        let header = text.split(whereSeparator: \.isNewline).first { line in
            let t = trim(String(line))
            return !t.isEmpty && !t.hasPrefix("#")
        } ?? ""
        let count = { (c: Character) in header.filter { $0 == c }.count }
        guard count(",") == 0 else { return "," }
        if count(";") > 0 && count(";") >= count("\t") { return ";" }
        return count("\t") > 0 ? "\t" : ","
    }

    /// Splits the text into records with the line each starts on.
    static func readRecords(_ text: String, delimiter: UnicodeScalar = ",", path: String) throws -> [Record] {
        let reader: CSVReader
        do { reader = try CSVReader(string: text, hasHeaderRow: false, delimiter: delimiter) } catch {
            throw JobTableError.unreadable(path: path, reason: "the CSV reader refused it (\(error))")
        }
        var records: [Record] = []
        var line = 1
        while let fields = reader.next() {
            records.append(Record(line: line, fields: fields))
            // The record's own terminator plus the line breaks kept inside its quoted fields.
            line += 1 + fields.reduce(0) { $0 + lineBreaks(in: $1) }
        }
        if let error = reader.error {
            throw JobTableError.unreadable(path: path, reason: "the CSV reader stopped near line \(line): \(error)")
        }
        return records
    }

    /// Line breaks as the reader counts them: CRLF, LF and a lone CR are one each.
    static func lineBreaks(in field: String) -> Int {
        var count = 0
        var previousCR = false
        for scalar in field.unicodeScalars {
            if scalar == "\r" { count += 1; previousCR = true; continue }
            if scalar == "\n" && !previousCR { count += 1 }
            previousCR = false
        }
        return count
    }

    static func headerColumns(_ names: [String], path: String) throws -> [JobColumn] {
        var columns: [JobColumn] = []
        var unknown: [String] = []
        for (index, raw) in names.enumerated() {
            let name = trim(raw)
            guard !name.isEmpty else { throw JobTableError.emptyColumnName(path: path, position: index + 1) }
            guard let column = JobColumn(rawValue: name.lowercased()) else { unknown.append(name); continue }
            guard !columns.contains(column) else { throw JobTableError.duplicateColumn(path: path, column: name) }
            columns.append(column)
        }
        guard unknown.isEmpty else { throw JobTableError.unknownColumns(path: path, columns: unknown) }
        let missing = JobColumn.required.filter { !columns.contains($0) }.map(\.rawValue)
        guard missing.isEmpty else { throw JobTableError.missingColumns(path: path, columns: missing) }
        return columns
    }

    static func trim(_ s: String) -> String { s.trimmingCharacters(in: CharacterSet(charactersIn: " \t")) }
}
