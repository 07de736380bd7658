import SVDCore

/// A weight whose shape contradicts the architecture described by the config values a model was built with.
/// Checked at load time, so a mismatched config fails with a message instead of a crash mid-forward.
public struct WeightShapeError: Error, CustomStringConvertible, Equatable {
    public let key: String
    public let expected: [Int]
    public let actual: [Int]
    public var description: String { "weight '\(key)' has shape \(actual), but the config implies \(expected)" }
}

extension Weights {
    /// Throws unless `tensor`, loaded from `name` in this scope, has shape `expected`.
    func checkShape(_ tensor: Tensor, _ name: String, _ expected: [Int]) throws {
        try checkShape(actual: tensor.shape, name, expected)
    }

    func checkShape(_ weight: WeightTensor, _ name: String, _ expected: [Int]) throws {
        try checkShape(actual: weight.shape, name, expected)
    }

    private func checkShape(actual: [Int], _ name: String, _ expected: [Int]) throws {
        guard actual == expected else { throw WeightShapeError(key: prefix + name, expected: expected, actual: actual) }
    }
}
