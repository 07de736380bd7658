import Foundation

/// A job parameter given on the command line instead of in a CSV cell: `--set KEY=VALUE` (rerender, sweep)
/// or `--vary KEY=V1,V2,…` (sweep). Keys are job-list column names, so a value means exactly what it would
/// mean in a CSV cell and goes through the same `RowValidator`, with the same rules and messages.
public struct ParameterOverride: Sendable, Equatable {
    /// "--set" or "--vary": messages name the option.
    public let option: String
    public let column: JobColumn
    /// One value for `--set`, one or more for `--vary`, trimmed, as typed.
    public let values: [String]
    /// The argument as typed, for messages.
    public let text: String

    public var key: String { column.rawValue }
    /// `--vary motion_bucket_id=60,120`: how messages quote it.
    public var quoted: String { "\(option) \(text)" }

    /// Parses `KEY=VALUE`, or with `list` `KEY=V1,V2,…`. `refused` maps the columns this command does not take
    /// this way to the reason (e.g. `image`: the command has its own argument for it).
    public static func parse(_ text: String, option: String, list: Bool,
                             refused: [JobColumn: String]) throws -> ParameterOverride {
        func fail(_ reason: String) -> ParameterOverrideError {
            ParameterOverrideError(option: option, text: text, reason: reason)
        }
        let example = list ? "KEY=V1,V2,… (e.g. motion_bucket_id=60,120,180)" : "KEY=VALUE (e.g. motion_bucket_id=180)"
        guard let equals = text.firstIndex(of: "=") else { throw fail("expected \(example)") }
        let name = text[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
        let allowed = JobColumn.allCases.filter { refused[$0] == nil }.map(\.rawValue).joined(separator: ", ")
        guard !name.isEmpty else { throw fail("no key before '='; expected \(example)") }
        guard let column = JobColumn(rawValue: name) else {
            throw fail("unknown key '\(name)'; the keys are the job-list columns \(allowed)")
        }
        if let reason = refused[column] { throw fail("\(name) cannot be given with \(option): \(reason)") }
        let raw = String(text[text.index(after: equals)...])
        let values = list ? raw.split(separator: ",", omittingEmptySubsequences: false).map(String.init) : [raw]
        let trimmed = values.map { $0.trimmingCharacters(in: .whitespaces) }
        if trimmed.contains(where: \.isEmpty) {
            throw fail(values.count > 1 ? "an empty value in the list; separate values with single commas"
                                        : "no value after '='; expected \(example)")
        }
        var seen = Set<String>()
        if let repeated = trimmed.first(where: { !seen.insert($0).inserted }) {
            throw fail("\(repeated) is listed twice")
        }
        return ParameterOverride(option: option, column: column, values: trimmed, text: text)
    }

    /// Refuses a key given twice (across all of `overrides`, whatever their option).
    public static func checkDistinct(_ overrides: [ParameterOverride]) throws {
        var first: [JobColumn: ParameterOverride] = [:]
        for override in overrides {
            if let earlier = first[override.column] {
                throw ParameterOverrideError(option: override.option, text: override.text,
                                             reason: "\(override.key) is already given by \(earlier.quoted); give each key once")
            }
            first[override.column] = override
        }
    }

    /// `<key><value>` for output names (`motion_bucket_id180`). A model is named by its folder's last
    /// component, and characters that do not belong in file names become '_'.
    public static func nameFragment(_ column: JobColumn, _ value: String) -> String {
        var text = value
        if column == .model { text = URL(fileURLWithPath: value).lastPathComponent }
        let safe = text.unicodeScalars.map { scalar -> String in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._+-".unicodeScalars.contains(scalar))
                ? String(scalar) : "_"
        }.joined()
        return column.rawValue + safe.replacingOccurrences(of: "..", with: "_")
    }
}

/// A `--set` or `--vary` argument that cannot be used; the message quotes it.
public struct ParameterOverrideError: Error, CustomStringConvertible, Equatable {
    public let option: String
    public let text: String
    public let reason: String

    public var description: String { "\(option) \(text): \(reason)" }
}
