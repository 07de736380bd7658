import SVDCore

/// Largest |a − b| over two tensors of equal size.
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "compare \(a.shape) with \(b.shape)")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a.scalar(i) - b.scalar(i))) }
    return m
}
