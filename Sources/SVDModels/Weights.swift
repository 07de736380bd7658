import SVDCore

/// Anything that hands out float32 tensors by their state-dict key.
public protocol WeightSource {
    func tensor(_ key: String) throws -> Tensor
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

    /// The module path of this scope (the prefix without its trailing dot), used to name traced tensors.
    public var path: String { prefix.hasSuffix(".") ? String(prefix.dropLast()) : prefix }

    /// The child scope `name.`.
    public subscript(_ name: String) -> Weights { Weights(source, prefix: prefix + name + ".") }
}
