import Foundation

public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case badHeader(file: String, reason: String)
    case badTensor(file: String, tensor: String, reason: String)
    case missingTensor(file: String, tensor: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read safetensors file: \(reason)"
        case let .badHeader(file, reason): return "\(file): invalid safetensors header: \(reason)"
        case let .badTensor(file, tensor, reason): return "\(file): tensor '\(tensor)': \(reason)"
        case let .missingTensor(file, tensor): return "\(file): no tensor named '\(tensor)'"
        }
    }
}

public enum SafeTensorsDType: String, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }

    /// Float dtypes the engine converts to float32.
    public var isEngineFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

public struct SafeTensorInfo: Sendable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range within the data section.
    public let range: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }

    /// Rows `r` of dimension 0, as a tensor of its own (a view of the same bytes).
    public func rows(_ r: Range<Int>) -> SafeTensorInfo {
        precondition(!shape.isEmpty && r.lowerBound >= 0 && r.upperBound <= shape[0], "rows \(r) of \(name) \(shape)")
        let rowBytes = shape.dropFirst().reduce(1, *) * dtype.byteSize
        let start = range.lowerBound + r.lowerBound * rowBytes
        return SafeTensorInfo(name: name, dtype: dtype, shape: [r.count] + shape.dropFirst(),
                              range: start..<start + r.count * rowBytes)
    }
}

/// A memory-mapped safetensors file. The whole header is validated when the file is opened, before any
/// tensor data is touched; tensors are converted to float32 (or copied compact) on use, after which their file
/// pages are dropped from the process (they are not needed again, and would otherwise count as resident).
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: SafeTensorInfo]
    public let metadata: [String: String]
    private let mapping: UnsafeMutableRawPointer?
    private let mappedLength: Int
    private let dataStart: Int

    /// Largest header accepted (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000

    public init(path: String) throws {
        self.path = path
        let fd: Int32, size: Int
        do { (fd, size) = try RegularFile.open(URL(fileURLWithPath: path)) } catch let error as RegularFileError {
            throw SafeTensorsError.unreadable(file: path, reason: error.reason)
        }
        defer { close(fd) }
        guard size >= 8 else { throw SafeTensorsError.badHeader(file: path, reason: "file is \(size) bytes, shorter than the 8-byte header length") }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw SafeTensorsError.unreadable(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        var ok = false
        defer { if !ok { munmap(map, size) } }
        let headerLength = map.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(size - 8) else {
            throw SafeTensorsError.badHeader(file: path, reason: "header length \(headerLength) exceeds the file size \(size)")
        }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw SafeTensorsError.badHeader(file: path, reason: "header length \(headerLength) is over the 100 MB limit")
        }
        let n = Int(headerLength)
        let headerData = Data(bytes: map + 8, count: n)
        let parsed = try Self.parseHeader(headerData, file: path, dataLength: size - 8 - n)
        tensors = parsed.tensors
        metadata = parsed.metadata
        mapping = map
        mappedLength = size
        dataStart = 8 + n
        ok = true
    }

    deinit { if let mapping { munmap(mapping, mappedLength) } }

    public var names: [String] { tensors.keys.sorted() }

    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let info = tensors[name] else { throw SafeTensorsError.missingTensor(file: path, tensor: name) }
        return info
    }

    /// Raw bytes of a tensor (valid while this file object lives).
    public func rawBytes(_ info: SafeTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mapping! + dataStart + info.range.lowerBound, count: info.range.count)
    }

    /// The tensor converted to float32.
    public func tensor(_ name: String) throws -> Tensor { try tensor(try info(name)) }

    /// A tensor (or a view made by `SafeTensorInfo.rows`) of this file converted to float32.
    public func tensor(_ info: SafeTensorInfo) throws -> Tensor {
        let name = info.name
        guard info.dtype.isEngineFloat else {
            throw SafeTensorsError.badTensor(file: path, tensor: name, reason: "dtype \(info.dtype.rawValue) is not a float type (F32, F16, BF16)")
        }
        let out = Tensor(uninitialized: info.shape)
        DTypeConversion.toFloat32(rawBytes(info), dtype: info.dtype, into: out.data, count: info.elementCount)
        releasePages(info)
        return out
    }

    /// The tensor as a weight: float16 and bfloat16 stay compact (copied out of the file), float32 is as `tensor`.
    public func weight(_ name: String) throws -> WeightTensor { try weight(try info(name)) }

    /// `weight` for a tensor or a view of one.
    public func weight(_ info: SafeTensorInfo) throws -> WeightTensor {
        let format: HalfFormat
        switch info.dtype {
        case .f16: format = .float16
        case .bf16: format = .bfloat16
        default: return WeightTensor(try tensor(info))
        }
        let buffer = HalfBuffer(count: info.elementCount, format: format)
        let raw = rawBytes(info)
        if let base = raw.baseAddress {
            // In parallel: the copy is mostly page faults (file pages in, fresh pages out).
            let destination = UnsafeMutableRawPointer(buffer.pointer)
            Parallel.forChunks(raw.count, chunk: 1 << 20) { r in
                (destination + r.lowerBound).copyMemory(from: base + r.lowerBound, byteCount: r.count)
            }
        }
        #if _endian(big)
        for i in 0..<buffer.count { buffer.pointer[i] = UInt16(littleEndian: buffer.pointer[i]) }
        #endif
        releasePages(info)
        return WeightTensor(shape: info.shape, half: buffer)
    }

    /// Drops the whole pages inside a tensor's bytes from this process's mapping; a later read faults them in again.
    private func releasePages(_ info: SafeTensorInfo) {
        guard let mapping else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = dataStart + info.range.lowerBound, end = dataStart + info.range.upperBound
        let first = (start + page - 1) / page * page, last = end / page * page
        if last > first { madvise(mapping + first, last - first, MADV_DONTNEED) }
    }

    /// Integer tensors (e.g. U8 frames) as raw bytes.
    public func bytes(_ name: String) throws -> [UInt8] {
        let info = try info(name)
        return Array(rawBytes(info))
    }

    static func parseHeader(_ data: Data, file: String, dataLength: Int) throws
        -> (tensors: [String: SafeTensorInfo], metadata: [String: String]) {
        guard data.first == UInt8(ascii: "{") else {
            throw SafeTensorsError.badHeader(file: file, reason: "header does not start with '{'")
        }
        let dict: [String: JSONValue]
        do {
            guard let object = try JSONValue.parse(data).objectValue else {
                throw SafeTensorsError.badHeader(file: file, reason: "header is not a JSON object")
            }
            dict = object
        } catch let e as SafeTensorsError { throw e } catch {
            throw SafeTensorsError.badHeader(file: file, reason: "header is not valid JSON")
        }
        var tensors: [String: SafeTensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value.objectValue else {
                    throw SafeTensorsError.badHeader(file: file, reason: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v.stringValue else {
                        throw SafeTensorsError.badHeader(file: file, reason: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            func bad(_ reason: String) -> SafeTensorsError { .badTensor(file: file, tensor: name, reason: reason) }
            guard let entry = value.objectValue else { throw bad("entry is not an object") }
            guard let dtypeName = entry["dtype"]?.stringValue else { throw bad("missing dtype") }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else { throw bad("unknown dtype '\(dtypeName)'") }
            guard let shapeValues = entry["shape"]?.arrayValue else { throw bad("missing or invalid shape") }
            var shape: [Int] = []
            var elements = 1
            for s in shapeValues {
                guard let d = s.intValue, d >= 0 else { throw bad("shape has an invalid dimension") }
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, p <= Int(Int32.max) * 64 else { throw bad("shape is too large") }
                elements = p
                shape.append(d)
            }
            guard let offsets = entry["data_offsets"]?.arrayValue, offsets.count == 2,
                  let begin = offsets[0].intValue, let end = offsets[1].intValue else {
                throw bad("data_offsets must be two integers")
            }
            guard begin >= 0, end >= begin else { throw bad("data_offsets [\(begin), \(end)] are not an ascending range") }
            guard end <= dataLength else {
                throw bad("data_offsets [\(begin), \(end)] run past the data section (\(dataLength) bytes)")
            }
            guard end - begin == elements * dtype.byteSize else {
                throw bad("byte count \(end - begin) does not match shape \(shape) × \(dtype.byteSize) bytes")
            }
            tensors[name] = SafeTensorInfo(name: name, dtype: dtype, shape: shape, range: begin..<end)
        }
        // The tensors must tile the data section: sorted by offset, no overlaps (holes are tolerated).
        let sorted = tensors.values.filter { !$0.range.isEmpty }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw SafeTensorsError.badTensor(file: file, tensor: b.name, reason: "data overlaps tensor '\(a.name)'")
        }
        return (tensors, metadata)
    }
}

/// float16 / bfloat16 / float32 → float32.
public enum DTypeConversion {
    public static func toFloat32(_ raw: UnsafeRawBufferPointer, dtype: SafeTensorsDType,
                                 into out: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0, let base = raw.baseAddress else { return }
        switch dtype {
        case .f32:
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            // The same converter as compact weights use, so a weight expanded here has the same bits.
            HalfConversion.toFloat32(base, format: .float16, into: out, count: count)
        case .bf16:
            HalfConversion.toFloat32(base, format: .bfloat16, into: out, count: count)
        default:
            preconditionFailure("not a float dtype")
        }
    }
}
