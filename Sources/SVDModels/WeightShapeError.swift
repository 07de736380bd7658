/// A weight whose shape contradicts the architecture described by the config values a model was built with.
/// Checked at load time, so a mismatched config fails with a message instead of a crash mid-forward.
public struct WeightShapeError: Error, CustomStringConvertible, Equatable {
    public let key: String
    public let expected: [Int]
    public let actual: [Int]
    public var description: String { "weight '\(key)' has shape \(actual), but the config implies \(expected)" }
}
