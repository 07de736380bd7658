/// Zero padding of a 2-D convolution: (top, left, bottom, right).
public struct Padding2D: Equatable, Sendable {
    public var top, left, bottom, right: Int
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }
    public static func same(_ p: Int) -> Padding2D { Padding2D(top: p, left: p, bottom: p, right: p) }
}

/// Convolutions as BLAS products over column panels: the panel's rows are the taps (channel, offset) of
/// the kernel and its columns are output positions, taken across image boundaries so the narrow
/// low-resolution layers still make wide products (a weight matrix is packed once per panel, and a panel of
/// 32 positions would spend more time packing weights than multiplying). The partition into panels and
/// output-channel blocks depends only on the shapes, so results do not depend on the worker count.
public enum Convolution {
    /// Floats per panel (rows × columns): bounds per-task scratch while keeping products wide.
    public static let panelFloats = 1 << 22
    static let maxPanelColumns = 2048

    /// Cross-correlation of x [N, C, H, W] with weight [O, C, kh, kw] (PyTorch's Conv2d) — of `input`(x) if
    /// given: the Winograd paths apply it as they gather their tiles, so the normalised input never exists
    /// whole; the others convolve a normalised copy. Either way the result is the same bits as
    /// conv2d(input.apply(x)).
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1,
                              padding: Padding2D, input: ChannelAffine? = nil) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
        precondition(weight.shape[1] == c, "conv2d: input \(x.shape) vs weight \(weight.shape)")
        if Winograd.applies(channels: c, outChannels: o, kh: kh, kw: kw, stride: stride, padding: padding) {
            return Winograd.conv3x3(x, weight: weight, bias: bias, input: input)
        }
        if let input { return conv2d(input.apply(x), weight: weight, bias: bias, stride: stride, padding: padding) }
        let oh = (h + padding.top + padding.bottom - kh) / stride + 1
        let ow = (w + padding.left + padding.right - kw) / stride + 1
        let out = Tensor(uninitialized: [n, o, oh, ow])
        let xp = x.data
        panelProduct(images: n, positions: oh * ow, outChannels: o, k: c * kh * kw, weight: weight, bias: bias,
                     out: out) { image, start, count, panel, ld in
            im2col(xp + image * c * h * w, channels: c, height: h, width: w, kh: kh, kw: kw, stride: stride,
                   padding: padding, outWidth: ow, start: start, count: count, into: panel, rowStride: ld)
        }
        withExtendedLifetime(x) {}
        return out
    }

    /// The temporal Conv3d with kernel (3, 1, 1) and zero padding (1, 0, 0) of the spatio-temporal blocks,
    /// on the frame-flattened layout x [b·F, C, y, x] with weight [O, C, 3, 1, 1]. The panel row (c, t) holds
    /// channel c of frame f + t − 1 (zero outside the video), matching the weight's memory order.
    public static func temporalConv3(_ x: Tensor, weight: Tensor, bias: Tensor?, frames: Int) -> Tensor {
        let rows = x.shape[0], c = x.shape[1]
        let spatial = x.count / (rows * c)
        let o = weight.shape[0]
        precondition(weight.shape[1] == c && weight.shape[2] == 3, "temporalConv3: weight \(weight.shape)")
        if TemporalWinograd.applies(channels: c, frames: frames) {
            return TemporalWinograd.conv(x, weight: weight, bias: bias, frames: frames)
        }
        let out = Tensor(uninitialized: [rows, o] + Array(x.shape.dropFirst(2)))
        let xp = x.data
        if spatial >= directTemporalPositions || NarrowProduct.applies(depth: c) {
            temporalConv3Direct(xp, rows: rows, channels: c, spatial: spatial, weight: weight, bias: bias,
                                frames: frames, out: out)
            withExtendedLifetime(x) {}
            return out
        }
        panelProduct(images: rows, positions: spatial, outChannels: o, k: 3 * c, weight: weight, bias: bias,
                     out: out) { row, start, count, panel, ld in
            let f = row % frames
            for t in 0..<3 {
                let source = f + t - 1
                for ch in 0..<c {
                    let dst = panel + (ch * 3 + t) * ld
                    if source < 0 || source >= frames {
                        dst.update(repeating: 0, count: count)
                    } else {
                        dst.update(from: xp + ((row + t - 1) * c + ch) * spatial + start, count: count)
                    }
                }
            }
        }
        withExtendedLifetime(x) {}
        return out
    }

    /// Frames at least this large are multiplied in place, one product per temporal tap, without a panel copy.
    public static let directTemporalPositions = 1024

    static func temporalConv3Direct(_ xp: UnsafePointer<Float>, rows: Int, channels c: Int, spatial: Int, weight: Tensor,
                                    bias: Tensor?, frames: Int, out: Tensor) {
        let o = weight.shape[0]
        let chunks = (spatial + maxPanelColumns - 1) / maxPanelColumns
        let op = out.data
        temporalTaps(weight).withUnsafeBufferPointer { taps in
            Parallel.forEach(rows * chunks) { task in
                let row = task / chunks, f = row % frames
                let start = (task % chunks) * maxPanelColumns
                let cols = min(maxPanelColumns, spatial - start)
                temporalColumns(taps: taps.baseAddress!, bias: bias, outChannels: o, inChannels: c, spatial: spatial,
                                start: start, cols: cols, into: op + row * o * spatial + start) { t in
                    f + t - 1 >= 0 && f + t - 1 < frames ? xp + (row + t - 1) * c * spatial : nil
                }
            }
        }
        withExtendedLifetime((weight, bias)) {}
    }

    /// out[image, o, p] = bias[o] + Σ_k weight[o, k] · B[k, (image, p)], where `fill(image, start, count,
    /// panel, ld)` writes rows 0..<k of B for positions start..<start+count of one image into `panel`
    /// (row stride ld). Columns run over (image, position) in order and are cut into panels.
    static func panelProduct(images: Int, positions: Int, outChannels o: Int, k: Int, weight: Tensor, bias: Tensor?,
                             out: Tensor,
                             fill: (Int, Int, Int, UnsafeMutablePointer<Float>, Int) -> Void) {
        let total = images * positions
        let panels = panelCount(total, maxPerPanel: min(maxPanelColumns, max(64, panelFloats / k / 16 * 16)))
        let panelColumns = (total + panels - 1) / panels
        let block = channelBlock(outChannels: o, panels: panels)
        let blocks = (o + block - 1) / block
        let wp = weight.data, bp = bias?.data, op = out.data
        Parallel.forEach(panels * blocks) { task in
            let first = (task / blocks) * panelColumns
            let cols = min(panelColumns, total - first)
            let o0 = (task % blocks) * block, rows = min(block, o - o0)
            // A panel inside one image is written in place (row stride = positions); one that spans images goes
            // through a scratch product and is scattered. Same product either way.
            let image0 = first / positions
            let inPlace = (first + cols - 1) / positions == image0
            ScratchPool.shared.withFloats(k * cols + (inPlace ? 0 : rows * cols)) { scratch in
                let panel = scratch
                let product = inPlace ? op + (image0 * o + o0) * positions + first % positions : scratch + k * cols
                let ldc = inPlace ? positions : cols
                let columns = first..<(first + cols)
                segments(columns, positions: positions) { image, p, count, offset in
                    fill(image, p, count, panel + offset, cols)
                }
                if let bp {
                    for r in 0..<rows { (product + r * ldc).update(repeating: bp[o0 + r], count: cols) }
                }
                BLAS.sgemm(m: rows, n: cols, k: k, a: wp + o0 * k, lda: k, b: panel, ldb: cols,
                           beta: bp == nil ? 0 : 1, c: product, ldc: ldc)
                if inPlace { return }
                segments(columns, positions: positions) { image, p, count, offset in
                    for r in 0..<rows {
                        (op + (image * o + o0 + r) * positions + p).update(from: product + r * cols + offset, count: count)
                    }
                }
            }
        }
        withExtendedLifetime((weight, bias, out)) {}
    }

    /// Output channels per task: all of them, or blocks (multiples of 16) when too few panels to share out.
    static func channelBlock(outChannels o: Int, panels: Int) -> Int {
        // A call with fewer panels than Parallel.targetTasks also splits its output channels.
        let tasks = Parallel.targetTasks
        let splits = panels >= tasks ? 1 : min((tasks + panels - 1) / panels, max(o / 64, 1))
        return ((o + splits - 1) / splits + 15) / 16 * 16
    }

    /// The runs of `columns` (numbered image by image, `positions` per image) that lie within one image:
    /// body(image, first position, count, offset of the run within `columns`).
    @inline(__always)
    static func segments(_ columns: Range<Int>, positions: Int, _ body: (Int, Int, Int, Int) -> Void) {
        var column = columns.lowerBound
        while column < columns.upperBound {
            let image = column / positions, p = column % positions
            let count = min(positions - p, columns.upperBound - column)
            body(image, p, count, column - columns.lowerBound)
            column += count
        }
    }

    /// Panels of equal width (no thin remainder panel), so every product stays wide.
    static func panelCount(_ total: Int, maxPerPanel: Int) -> Int { max(1, (total + maxPerPanel - 1) / maxPerPanel) }

    /// Rows (channel, ky, kx) × columns (output positions start..<start+count), row stride `rowStride`.
    static func im2col(_ src: UnsafePointer<Float>, channels: Int, height: Int, width: Int, kh: Int, kw: Int,
                       stride: Int, padding: Padding2D, outWidth: Int, start: Int, count: Int,
                       into col: UnsafeMutablePointer<Float>, rowStride: Int) {
        for ch in 0..<channels {
            let plane = src + ch * height * width
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = col + ((ch * kh + ky) * kw + kx) * rowStride
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
