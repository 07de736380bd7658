import SVDCore

/// Anything that hands out float32 tensors by their state-dict key.
public protocol WeightSource {
    func tensor(_ key: String) throws -> Tensor
    /// The tensor as a layer keeps it: sources of 16-bit files keep it compact; by default it is expanded.
    func weight(_ key: String) throws -> WeightTensor
}

extension WeightSource {
    public func weight(_ key: String) throws -> WeightTensor { WeightTensor(try tensor(key)) }
}

extension SafeTensorsFile: WeightSource {}

/// A view of a weight source under a key prefix, so each block reads its own keys by their short names. Every
/// read states the shape the architecture needs, so a layer's key names and shapes are written once, where it
/// fetches them: a wrong shape fails here naming the key, and the weight manifest is a network built on a
/// `WeightRecorder` (see `WeightManifest`).
public struct Weights {
    public let source: any WeightSource
    public let prefix: String

    public init(_ source: any WeightSource, prefix: String = "") {
        self.source = source
        self.prefix = prefix
    }

    /// Whether the network is being built only to record what it reads (no values are loaded).
    public var isRecording: Bool { source is WeightRecorder }

    /// A small tensor (bias, norm, embedding), read as float32.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        try read(name, shape, recorded: { Tensor(zeros: shape) }, load: { try source.tensor($0) }, shapeOf: \.shape)
    }

    /// A large weight, kept as stored (see `WeightTensor`).
    public func weight(_ name: String, shape: [Int]) throws -> WeightTensor {
        try read(name, shape, recorded: { WeightTensor(shapeOnly: shape) }, load: { try source.weight($0) }, shapeOf: \.shape)
    }

    private func read<T>(_ name: String, _ shape: [Int], recorded: () -> T, load: (String) throws -> T,
                         shapeOf: (T) -> [Int]) throws -> T {
        if let recorder = source as? WeightRecorder {
            recorder.record(prefix + name, shape)
            return recorded()
        }
        let value = try load(prefix + name)
        guard shapeOf(value) == shape else { throw WeightShapeError(key: prefix + name, expected: shape, actual: shapeOf(value)) }
        return value
    }

    /// The module path of this scope (the prefix without its trailing dot), used to name traced tensors.
    public var path: String { prefix.hasSuffix(".") ? String(prefix.dropLast()) : prefix }

    /// The child scope `name.`.
    public subscript(_ name: String) -> Weights { Weights(source, prefix: prefix + name + ".") }
}

/// Stands in for a weight file while a network is built only to list the keys and shapes it reads.
public final class WeightRecorder: WeightSource {
    public private(set) var shapes: [String: [Int]] = [:]

    public init() {}

    func record(_ key: String, _ shape: [Int]) {
        precondition(shapes[key] == nil, "the network reads \(key) twice")
        shapes[key] = shape
    }

    /// `Weights` answers for the recorder; nothing reads it directly.
    public func tensor(_ key: String) throws -> Tensor { preconditionFailure("a WeightRecorder holds no values") }

    /// What `build` reads. Building on a recorder cannot fail: nothing is read from a file.
    public static func shapes(_ build: (Weights) throws -> Void) -> [String: [Int]] {
        let recorder = WeightRecorder()
        do { try build(Weights(recorder)) } catch { preconditionFailure("describing a network failed: \(error)") }
        return recorder.shapes
    }
}
