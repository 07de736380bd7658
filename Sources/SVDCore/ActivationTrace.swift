/// An optional sink for named intermediate tensors, used to compare the engine layer by layer with a
/// reference trace (names follow diffusers' module paths). Off unless a sink is installed.
public enum ActivationTrace {
    nonisolated(unsafe) public static var sink: ((String, Tensor) -> Void)?

    @inline(__always)
    public static func record(_ name: @autoclosure () -> String, _ tensor: Tensor) {
        if let sink { sink(name(), tensor) }
    }
}
