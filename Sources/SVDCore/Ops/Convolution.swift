/// Zero padding of a 2-D convolution: (top, left, bottom, right).
public struct Padding2D: Equatable, Sendable {
    public var top, left, bottom, right: Int
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }
    public static func same(_ p: Int) -> Padding2D { Padding2D(top: p, left: p, bottom: p, right: p) }
}

/// Convolutions as BLAS products over im2col panels. Work is split into (image, column chunk) tasks of a
/// fixed size, so results do not depend on the worker count.
public enum Convolution {
    static let columnChunk = 2048

    /// Cross-correlation of x [N, C, H, W] with weight [O, C, kh, kw] (PyTorch's Conv2d).
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1,
                              padding: Padding2D) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
        precondition(weight.shape[1] == c, "conv2d: input \(x.shape) vs weight \(weight.shape)")
        let oh = (h + padding.top + padding.bottom - kh) / stride + 1
        let ow = (w + padding.left + padding.right - kw) / stride + 1
        let positions = oh * ow
        let out = Tensor(uninitialized: [n, o, oh, ow])
        let chunks = (positions + columnChunk - 1) / columnChunk
        let k = c * kh * kw
        let pointwise = kh == 1 && kw == 1 && stride == 1 && padding == .same(0)
        let xp = x.data, wp = weight.data, op = out.data
        Parallel.forEach(n * chunks) { task in
            let img = task / chunks
            let start = (task % chunks) * columnChunk
            let cols = min(columnChunk, positions - start)
            let dst = op + img * o * positions + start
            if let bias {
                for oc in 0..<o { (dst + oc * positions).update(repeating: bias.data[oc], count: cols) }
            }
            let src = xp + img * c * h * w
            if pointwise {
                BLAS.sgemm(m: o, n: cols, k: c, a: wp, lda: c, b: src + start, ldb: positions,
                           beta: bias == nil ? 0 : 1, c: dst, ldc: positions)
                return
            }
            let col = UnsafeMutablePointer<Float>.allocate(capacity: k * cols)
            defer { col.deallocate() }
            im2col(src, channels: c, height: h, width: w, kh: kh, kw: kw, stride: stride, padding: padding,
                   outWidth: ow, start: start, count: cols, into: col)
            BLAS.sgemm(m: o, n: cols, k: k, a: wp, lda: k, b: col, ldb: cols,
                       beta: bias == nil ? 0 : 1, c: dst, ldc: positions)
        }
        return out
    }

    /// Rows (channel, ky, kx) × columns (output positions start..<start+count).
    static func im2col(_ src: UnsafePointer<Float>, channels: Int, height: Int, width: Int, kh: Int, kw: Int,
                       stride: Int, padding: Padding2D, outWidth: Int, start: Int, count: Int,
                       into col: UnsafeMutablePointer<Float>) {
        for ch in 0..<channels {
            let plane = src + ch * height * width
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = col + ((ch * kh + ky) * kw + kx) * count
                    var j = 0
                    var p = start
                    // One output row segment at a time: with stride 1 its valid inputs are one contiguous run.
                    while j < count {
                        let oy = p / outWidth, ox0 = p % outWidth
                        let n = min(outWidth - ox0, count - j)
                        let iy = oy * stride + ky - padding.top
                        let dst = row + j
                        if iy < 0 || iy >= height {
                            dst.update(repeating: 0, count: n)
                        } else if stride == 1 {
                            let line = plane + iy * width
                            // Valid ox: 0 ≤ ox + kx − left < width.
                            let lo = min(max(padding.left - kx - ox0, 0), n)
                            let hi = max(min(width + padding.left - kx - ox0, n), lo)
                            if lo > 0 { dst.update(repeating: 0, count: lo) }
                            if hi > lo { (dst + lo).update(from: line + ox0 + lo + kx - padding.left, count: hi - lo) }
                            if n > hi { (dst + hi).update(repeating: 0, count: n - hi) }
                        } else {
                            let line = plane + iy * width
                            for t in 0..<n {
                                let ix = (ox0 + t) * stride + kx - padding.left
                                dst[t] = ix >= 0 && ix < width ? line[ix] : 0
                            }
                        }
                        j += n
                        p += n
                    }
                }
            }
        }
    }

    /// The temporal Conv3d with kernel (3, 1, 1) and zero padding (1, 0, 0) of the spatio-temporal blocks,
    /// on the frame-flattened layout x [b·F, C, y, x] with weight [O, C, 3, 1, 1].
    public static func temporalConv3(_ x: Tensor, weight: Tensor, bias: Tensor?, frames: Int) -> Tensor {
        let rows = x.shape[0], c = x.shape[1]
        let spatial = x.count / (rows * c)
        let o = weight.shape[0]
        precondition(weight.shape[1] == c && weight.shape[2] == 3, "temporalConv3: weight \(weight.shape)")
        // One contiguous (O, C) matrix per temporal tap.
        let taps = (0..<3).map { t -> [Float] in
            var m = [Float](repeating: 0, count: o * c)
            for i in 0..<(o * c) { m[i] = weight.data[i * 3 + t] }
            return m
        }
        let out = Tensor(uninitialized: [rows, o] + Array(x.shape.dropFirst(2)))
        let chunks = (spatial + columnChunk - 1) / columnChunk
        let xp = x.data, op = out.data
        taps[0].withUnsafeBufferPointer { t0 in taps[1].withUnsafeBufferPointer { t1 in taps[2].withUnsafeBufferPointer { t2 in
            let tapPointers = [t0.baseAddress!, t1.baseAddress!, t2.baseAddress!]
            Parallel.forEach(rows * chunks) { task in
                let row = task / chunks, f = row % frames
                let start = (task % chunks) * columnChunk
                let cols = min(columnChunk, spatial - start)
                let dst = op + row * o * spatial + start
                var beta: Float = 0
                if let bias {
                    for oc in 0..<o { (dst + oc * spatial).update(repeating: bias.data[oc], count: cols) }
                    beta = 1
                }
                for t in 0..<3 {
                    let sf = f + t - 1
                    guard sf >= 0 && sf < frames else { continue }
                    let src = xp + (row + t - 1) * c * spatial + start
                    BLAS.sgemm(m: o, n: cols, k: c, a: tapPointers[t], lda: c, b: src, ldb: spatial,
                               beta: beta, c: dst, ldc: spatial)
                    beta = 1
                }
                if beta == 0 { for oc in 0..<o { (dst + oc * spatial).update(repeating: 0, count: cols) } }
            }
        } } }
        return out
    }
}

/// Nearest-neighbour resizing of [N, C, H, W] tensors.
public enum Resample {
    /// PyTorch's `interpolate(mode="nearest")`: src = floor(dst · fl32(in/out)), clamped to in−1.
    /// With out = 2·in this is the plain ×2 upsampling.
    public static func nearest(_ x: Tensor, height oh: Int, width ow: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let sy = Float(h) / Float(oh), sx = Float(w) / Float(ow)
        let ys = (0..<oh).map { min(Int((Float($0) * sy).rounded(.down)), h - 1) }
        let xs = (0..<ow).map { min(Int((Float($0) * sx).rounded(.down)), w - 1) }
        let out = Tensor(uninitialized: [n, c, oh, ow])
        let xp = x.data, op = out.data
        Parallel.forEach(n * c) { plane in
            let src = xp + plane * h * w, dst = op + plane * oh * ow
            for y in 0..<oh {
                let srow = src + ys[y] * w, drow = dst + y * ow
                for xx in 0..<ow { drow[xx] = srow[xs[xx]] }
            }
        }
        return out
    }
}
