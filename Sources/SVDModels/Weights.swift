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

/// A view of a weight source under a key prefix, so each block reads its own keys by their short names.
public struct Weights {
    public let source: any WeightSource
    public let prefix: String

    public init(_ source: any WeightSource, prefix: String = "") {
        self.source = source
        self.prefix = prefix
    }

    public func tensor(_ name: String) throws -> Tensor { try source.tensor(prefix + name) }

    /// A large weight, kept as stored (see `WeightTensor`); small ones (biases, norms) are read with `tensor`.
    public func weight(_ name: String) throws -> WeightTensor { try source.weight(prefix + name) }

    /// The module path of this scope (the prefix without its trailing dot), used to name traced tensors.
    public var path: String { prefix.hasSuffix(".") ? String(prefix.dropLast()) : prefix }

    /// The child scope `name.`.
    public subscript(_ name: String) -> Weights { Weights(source, prefix: prefix + name + ".") }
}
