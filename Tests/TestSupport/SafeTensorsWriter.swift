import Foundation
import SVDCore

/// Builds safetensors files for tests: well-formed ones from tensors (laid out as the reference writer does:
/// data in insertion order, header padded with spaces to a multiple of 8), and hostile ones from raw bytes.
public struct SafeTensorsWriter {
    public struct Entry {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var bytes: [UInt8]
    }

    public private(set) var entries: [Entry] = []
    public var metadata: [String: String]?

    public init(metadata: [String: String]? = ["format": "pt"]) {
        self.metadata = metadata
    }

    public var names: [String] { entries.map(\.name) }

    /// A tensor from raw little-endian bytes; nothing is checked, so tests can also describe bad tensors.
    public mutating func add(_ name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
        entries.append(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    public mutating func addF32(_ name: String, shape: [Int], values: [Float]) {
        add(name, dtype: "F32", shape: shape, bytes: values.flatMap { Self.littleEndian($0.bitPattern) })
    }

    public mutating func addF16(_ name: String, shape: [Int], values: [Float]) {
        add(name, dtype: "F16", shape: shape, bytes: values.flatMap { Self.littleEndian(Float16($0).bitPattern) })
    }

    /// bfloat16 with round-to-nearest-even, as torch converts.
    public mutating func addBF16(_ name: String, shape: [Int], values: [Float]) {
        add(name, dtype: "BF16", shape: shape, bytes: values.flatMap { Self.littleEndian(Self.bfloat16Bits($0)) })
    }

    /// A float32 tensor of the given shape whose values are a deterministic function of `seed`.
    public mutating func addPattern(_ name: String, shape: [Int], seed: Int = 0) {
        let n = shape.reduce(1, *)
        addF32(name, shape: shape, values: (0..<n).map { Float(($0 * 7 + seed * 13) % 17) / 16 - 0.5 })
    }

    /// Copies a tensor's stored bytes and dtype from an existing file, optionally under another name or shape
    /// (a shape of equal element count, e.g. to store a 2-D weight as 4-D).
    public mutating func copy(_ tensor: String, from file: SafeTensorsFile, as newName: String? = nil,
                              shape: [Int]? = nil) throws {
        let info = try file.info(tensor)
        add(newName ?? tensor, dtype: info.dtype.rawValue, shape: shape ?? info.shape,
            bytes: Array(file.rawBytes(info)))
    }

    /// Copies every tensor of a file, mapping names through `rename` (return nil to drop a tensor).
    public mutating func copyAll(from file: SafeTensorsFile, rename: (String) -> String? = { $0 }) throws {
        for name in file.names {
            if let newName = rename(name) { try copy(name, from: file, as: newName) }
        }
    }

    public mutating func remove(_ name: String) {
        entries.removeAll { $0.name == name }
    }

    /// The complete file.
    public func encoded() -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for e in entries {
            header[e.name] = ["dtype": e.dtype, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count]]
            offset += e.bytes.count
        }
        if let metadata { header["__metadata__"] = metadata }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data(Self.littleEndian(UInt64(json.count)))
        out.append(json)
        for e in entries { out.append(contentsOf: e.bytes) }
        return out
    }

    public func write(to url: URL) throws {
        try encoded().write(to: url)
    }

    /// A file made of an explicit header-length field, header bytes and data bytes: for hostile inputs.
    public static func rawFile(headerLength: UInt64, header: [UInt8], data: [UInt8] = []) -> Data {
        Data(littleEndian(headerLength) + header + data)
    }

    /// A file whose header-length field is correct for the given header text.
    public static func rawFile(header: String, data: [UInt8] = []) -> Data {
        let bytes = Array(header.utf8)
        return rawFile(headerLength: UInt64(bytes.count), header: bytes, data: data)
    }

    public static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func bfloat16Bits(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let bits = x.bitPattern
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}

/// A fresh temporary directory, removed when the object goes away.
public final class ScratchDirectory {
    public let url: URL

    public init(_ label: String = "svdbatch-test") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ relative: String) -> URL { url.appendingPathComponent(relative) }

    deinit { try? FileManager.default.removeItem(at: url) }
}
