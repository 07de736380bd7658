import Foundation
import SVDCore

// A diffusers config file is read in two steps: decoding (`Codable`, with the Python class defaults for absent
// or null keys and unknown keys ignored) gives typed values, then `validate()` checks them against what the
// engine can run. Both steps report the JSON key at fault; loading adds the file.

/// A config file that cannot be used. Every case names the file and, where one is at fault, the JSON key.
public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case notAJSONObject(file: String, reason: String)
    case wrongType(file: String, key: String, expected: String, found: String)
    case invalidValue(file: String, key: String, reason: String)
    /// A valid setting this engine does not implement.
    case unsupported(file: String, key: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read config: \(reason)"
        case let .notAJSONObject(file, reason): return "\(file): not a JSON object: \(reason)"
        case let .wrongType(file, key, expected, found): return "\(file): key '\(key)' must be \(expected), found \(found)"
        case let .invalidValue(file, key, reason): return "\(file): key '\(key)': \(reason)"
        case let .unsupported(file, key, reason): return "\(file): key '\(key)': not supported by this engine: \(reason)"
        }
    }
}

/// A problem with one key of a config, before the file it came from is known.
public struct ConfigKeyError: Error, Equatable {
    public enum Kind: Equatable {
        case wrongType(expected: String, found: String)
        case invalid(String)
        /// A valid setting this engine does not implement.
        case unsupported(String)
    }

    public let key: String
    public let kind: Kind

    public init(key: String, kind: Kind) {
        self.key = key
        self.kind = kind
    }

    static func invalid(_ key: String, _ reason: String) -> ConfigKeyError { .init(key: key, kind: .invalid(reason)) }
    static func unsupported(_ key: String, _ reason: String) -> ConfigKeyError { .init(key: key, kind: .unsupported(reason)) }
    static func wrongType(_ key: String, _ expected: String, _ found: JSONValue) -> ConfigKeyError {
        .init(key: key, kind: .wrongType(expected: expected, found: found.phrase))
    }

    public func located(in file: String) -> ModelConfigError {
        switch kind {
        case let .wrongType(expected, found): return .wrongType(file: file, key: key, expected: expected, found: found)
        case let .invalid(reason): return .invalidValue(file: file, key: key, reason: reason)
        case let .unsupported(reason): return .unsupported(file: file, key: key, reason: reason)
        }
    }
}

/// One JSON config file of a diffusers model folder.
public protocol ModelConfigFile: Codable, Equatable, Sendable {
    /// Where the file lives inside a model folder.
    static var fileName: String { get }
    /// Checks decoded or hand-built values; throws `ConfigKeyError` naming the key at fault.
    func validate() throws
}

extension ModelConfigFile {
    public static func load(from url: URL) throws -> Self {
        let data: Data
        do { data = try RegularFile.read(url, limit: 16 << 20) } catch let error as RegularFileError {
            throw ModelConfigError.unreadable(file: url.path, reason: error.reason)
        }
        return try decode(data, file: url.path)
    }

    /// Decodes and validates a config; `file` names it in errors (default: its place in a model folder).
    public static func decode(_ data: Data, file: String? = nil) throws -> Self {
        let file = file ?? fileName
        let top: JSONValue
        do { top = try JSONValue.parse(data) } catch {
            throw ModelConfigError.notAJSONObject(file: file, reason: "invalid JSON")
        }
        guard top.objectValue != nil else {
            throw ModelConfigError.notAJSONObject(file: file, reason: "the top level is \(top.phrase)")
        }
        do {
            return try JSONDecoder().decode(Self.self, from: data).validated(as: file)
        } catch let error as ConfigKeyError {
            throw error.located(in: file)
        }
    }

    /// The config itself once `validate()` passes; errors name `source`.
    func validated(as source: String) throws -> Self {
        do { try validate() } catch let error as ConfigKeyError { throw error.located(in: source) }
        return self
    }
}

/// A key outside a config's stored properties (`_class_name`, a nested object, a component name).
struct ConfigKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { nil }

    static let className = ConfigKey("_class_name")

    /// Checks `_class_name` when the file carries one.
    static func expectClass(_ accepted: [String], in decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: ConfigKey.self)
        guard let name = try c.string(.className) else { return }
        guard accepted.contains(name) else {
            throw ConfigKeyError.unsupported(className.stringValue, "'\(name)' is not \(accepted.map { "'\($0)'" }.joined(separator: " or "))")
        }
    }
}

/// Typed reads of one key; null counts as absent, as the Python classes then fall back to their defaults.
extension KeyedDecodingContainer {
    func json(_ key: Key) throws -> JSONValue? {
        guard let v = try decodeIfPresent(JSONValue.self, forKey: key), v != .null else { return nil }
        return v
    }

    private func typed<T>(_ key: Key, _ expected: String, _ convert: (JSONValue) -> T?) throws -> T? {
        guard let v = try json(key) else { return nil }
        guard let t = convert(v) else { throw ConfigKeyError.wrongType(key.stringValue, expected, v) }
        return t
    }

    private func list<T>(_ key: Key, _ expected: String, _ convert: (JSONValue) -> T?) throws -> [T]? {
        try typed(key, expected) { v in
            guard let items = v.arrayValue else { return nil }
            let converted = items.compactMap(convert)
            return converted.count == items.count ? converted : nil
        }
    }

    func int(_ key: Key) throws -> Int? { try typed(key, "an integer") { $0.intValue } }
    func double(_ key: Key) throws -> Double? { try typed(key, "a number") { $0.doubleValue } }
    func bool(_ key: Key) throws -> Bool? { try typed(key, "true or false") { $0.boolValue } }
    func string(_ key: Key) throws -> String? { try typed(key, "a string") { $0.stringValue } }
    func strings(_ key: Key) throws -> [String]? { try list(key, "a list of strings") { $0.stringValue } }
    func ints(_ key: Key) throws -> [Int]? { try list(key, "a list of integers") { $0.intValue } }
    func doubles(_ key: Key) throws -> [Double]? { try list(key, "a list of numbers") { $0.doubleValue } }

    /// diffusers' `Union[int, Tuple[int]]`: a single integer applies to every block, a list gives one per block.
    func perBlock(_ key: Key, blocks: Int) throws -> [Int]? {
        guard let v = try json(key) else { return nil }
        if let i = v.intValue { return Array(repeating: i, count: blocks) }
        if let a = v.arrayValue, a.contains(where: { $0.arrayValue != nil }) {
            throw ConfigKeyError.unsupported(key.stringValue, "nested per-layer lists are not supported; give one integer per block")
        }
        let list = try ints(key)!
        guard list.count == blocks else {
            throw ConfigKeyError.invalid(key.stringValue, "has \(list.count) entries but there are \(blocks) blocks (one per down block)")
        }
        return list
    }
}

/// Checks shared by several configs.
enum ConfigRules {
    static func positive(_ key: String, _ value: Int) throws {
        guard value > 0 else { throw ConfigKeyError.invalid(key, "must be positive, found \(value)") }
    }

    static func positive(_ key: String, _ values: [Int]) throws {
        guard !values.isEmpty else { throw ConfigKeyError.invalid(key, "must not be empty") }
        for v in values where v <= 0 { throw ConfigKeyError.invalid(key, "entries must be positive, found \(v)") }
    }

    static func positive(_ key: String, _ value: Double) throws {
        guard value.isFinite, value > 0 else { throw ConfigKeyError.invalid(key, "must be a positive number, found \(value)") }
    }

    /// Every block width feeds GroupNorm(32, C).
    static func groupNormChannels(_ key: String, _ channels: [Int]) throws {
        for c in channels where c % 32 != 0 {
            throw ConfigKeyError.invalid(key, "channel count \(c) is not divisible by the 32 GroupNorm groups")
        }
    }
}

extension JSONValue {
    /// How an error message names a value the user wrote.
    var phrase: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return "\(b)"
        case let .int(i): return "the integer \(i)"
        case let .double(d): return "the number \(d)"
        case let .string(s): return "the string \"\(s)\""
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}
