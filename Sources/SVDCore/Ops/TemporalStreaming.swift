import Foundation

/// A video's temporal GroupNorm (statistics over all its frames) reduced to one affine map per channel, so
/// frames can be normalised one group at a time instead of into a whole-video copy. The statistics and the
/// per-channel scale and shift are computed in the same order as `Normalization.groupNorm(framesPerSample:)`,
/// so the normalised values are bit-identical.
public struct VideoGroupNorm {
    public let scale: [Float]
    public let shift: [Float]
    public let silu: Bool

    /// x: one video [frames, channels, spatial] at `x`.
    public init(_ x: UnsafePointer<Float>, frames: Int, channels: Int, spatial: Int, groups: Int,
                weight: Tensor, bias: Tensor, eps: Float, silu: Bool) {
        precondition(channels % groups == 0 && weight.count == channels, "VideoGroupNorm: \(channels) channels")
        let perGroup = channels / groups, span = perGroup * spatial
        var scale = [Float](repeating: 0, count: channels), shift = scale
        scale.withUnsafeMutableBufferPointer { sp in shift.withUnsafeMutableBufferPointer { hp in
            let sp = sp.baseAddress!, hp = hp.baseAddress!, wp = weight.data, bp = bias.data
            Parallel.forEach(groups) { g in
                func group(_ f: Int) -> UnsafePointer<Float> { x + (f * channels + g * perGroup) * spatial }
                var sum = 0.0
                for f in 0..<frames { sum += Statistics.sum(group(f), count: span) }
                let n = Double(frames * span)
                let mean = sum / n
                var sq = 0.0
                for f in 0..<frames { sq += Statistics.squaredDeviations(group(f), count: span, mean: mean) }
                let invStd = Float(1 / (sq / n + Double(eps)).squareRoot())
                let meanF = Float(mean)
                for c in (g * perGroup)..<((g + 1) * perGroup) {
                    sp[c] = wp[c] * invStd
                    hp[c] = bp[c] - meanF * sp[c]
                }
            }
        } }
        self.scale = scale
        self.shift = shift
        self.silu = silu
    }

    /// Normalises `frames` consecutive frames [frames, channels, spatial] from `src` into `dst`.
    public func apply(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, frames: Int, spatial: Int) {
        let channels = scale.count
        scale.withUnsafeBufferPointer { sp in shift.withUnsafeBufferPointer { hp in
            Parallel.forEach(frames * channels) { plane in
                let c = plane % channels, s = sp[c], h = hp[c]
                Elementwise.affine(src + plane * spatial, into: dst + plane * spatial, count: spatial, scale: s,
                                   shift: h, silu: silu)
            }
        } }
    }
}

/// The (3,1,1) temporal convolution of one video whose input is normalised on the fly: output frames are made
/// a group at a time from a ring of normalised input frames (the group plus one frame either side), so neither
/// the normalised video nor, if the caller consumes each group, the convolved one ever exists whole.
/// Each (frame, column chunk) task does exactly what `Convolution.temporalConv3` does for it (bias fill,
/// then one product per tap in tap order, same matrix sizes), so the results are bit-identical.
public struct StreamedTemporalConv {
    let taps: [Float]  // `Convolution.temporalTaps`
    let bias: Tensor?
    public let outChannels: Int, inChannels: Int

    /// weight [O, C, 3, 1, 1].
    public init(weight: Tensor, bias: Tensor?) {
        let o = weight.shape[0], c = weight.shape[1]
        precondition(weight.shape[2] == 3, "StreamedTemporalConv: weight \(weight.shape)")
        taps = Convolution.temporalTaps(weight)
        self.bias = bias
        outChannels = o
        inChannels = c
    }

    /// Runs over a video of `frames` frames [frames, C, spatial] at `input`, normalised by `norm`, `group`
    /// output frames at a time. `destination(g0)` is where output frames g0..<g0+count go ([count, O, spatial]);
    /// `finish(frame, start, cols, dst)` is then called per task on that frame's columns, `dst` pointing at
    /// the frame's output.
    public func run(_ input: UnsafePointer<Float>, frames: Int, spatial: Int, norm: VideoGroupNorm, group: Int,
                    destination: (Int) -> UnsafeMutablePointer<Float>,
                    finish: ((Int, Int, Int, UnsafeMutablePointer<Float>) -> Void)? = nil) {
        let c = inChannels, o = outChannels, frameSize = c * spatial
        let slots = min(group + 2, frames)
        let ring = UnsafeMutablePointer<Float>.allocate(capacity: slots * frameSize)
        defer { ring.deallocate() }
        TensorMemory.allocated(slots * frameSize * 4)
        defer { TensorMemory.released(slots * frameSize * 4) }
        func slot(_ f: Int) -> UnsafeMutablePointer<Float> { ring + (f % slots) * frameSize }
        let chunkSize = Convolution.maxPanelColumns
        let chunks = (spatial + chunkSize - 1) / chunkSize
        var normalized = 0  // input frames 0..<normalized are in the ring
        var g0 = 0
        while g0 < frames {
            let g1 = min(g0 + group, frames)
            // Frames g0−1 and earlier are either in the ring or no longer needed.
            while normalized < min(g1 + 1, frames) {
                norm.apply(input + normalized * frameSize, into: slot(normalized), frames: 1, spatial: spatial)
                normalized += 1
            }
            let out = destination(g0)
            taps.withUnsafeBufferPointer { taps in
                Parallel.forEach((g1 - g0) * chunks) { task in
                    let f = g0 + task / chunks
                    let start = (task % chunks) * chunkSize
                    let cols = min(chunkSize, spatial - start)
                    let frameOut = out + (f - g0) * o * spatial
                    Convolution.temporalColumns(taps: taps.baseAddress!, bias: bias, outChannels: o, inChannels: c,
                                                spatial: spatial, start: start, cols: cols, into: frameOut + start) { t in
                        let sf = f + t - 1
                        return sf >= 0 && sf < frames ? UnsafePointer(slot(sf)) : nil
                    }
                    finish?(f, start, cols, frameOut)
                }
            }
            g0 = g1
        }
    }
}

extension Convolution {
    /// Narrow layers gather each block of this many columns of the three source frames into one panel.
    static let narrowTemporalBlock = 128

    /// The weight [O, C, 3, 1, 1] as `temporalColumns` multiplies it: for narrow layers (`NarrowProduct`) in
    /// its own order, one (O, 3·C) matrix; otherwise as three contiguous (O, C) matrices, one per temporal tap.
    static func temporalTaps(_ weight: Tensor) -> [Float] {
        let n = weight.shape[0] * weight.shape[1]
        if NarrowProduct.applies(depth: weight.shape[1]) { return weight.array }
        var taps = [Float](repeating: 0, count: 3 * n)
        for t in 0..<3 { for i in 0..<n { taps[t * n + i] = weight.data[i * 3 + t] } }
        withExtendedLifetime(weight) {}
        return taps
    }

    /// One (output frame, column chunk) task of the (3,1,1) temporal convolution (`taps` from `temporalTaps`),
    /// `source(t)` being input frame f+t−1 (nil past the video's ends, zero padding). Wide layers: the bias,
    /// then one BLAS product per tap in tap order. Narrow layers: per block of columns, the three frames'
    /// rows (channel, tap) gathered into a panel (zero rows for missing frames), one unpacked product of depth
    /// 3·C, then the bias. `temporalConv3` on narrow layers and on frames of
    /// `directTemporalPositions` and more is exactly this.
    static func temporalColumns(taps: UnsafePointer<Float>, bias: Tensor?, outChannels o: Int, inChannels c: Int,
                                spatial: Int, start: Int, cols: Int, into dst: UnsafeMutablePointer<Float>,
                                source: (Int) -> UnsafePointer<Float>?) {
        if NarrowProduct.applies(depth: c) {
            let frames = [source(0), source(1), source(2)], block = narrowTemporalBlock
            ScratchPool.shared.withFloats(3 * c * block) { panel in
                for j0 in stride(from: 0, to: cols, by: block) {
                    let n = min(block, cols - j0)
                    for ch in 0..<c {
                        for t in 0..<3 {
                            let row = panel + (ch * 3 + t) * n
                            if let frame = frames[t] { row.update(from: frame + ch * spatial + start + j0, count: n) }
                            else { row.update(repeating: 0, count: n) }
                        }
                    }
                    NarrowProduct.multiply(m: o, n: n, k: 3 * c, a: taps, lda: 3 * c, b: panel, ldb: n, c: dst + j0,
                                           ldc: spatial)
                    if let bias {
                        for oc in 0..<o {
                            let row = dst + oc * spatial + j0, shift = bias.data[oc]
                            for j in 0..<n { row[j] += shift }
                        }
                    }
                }
            }
            return
        }
        var beta: Float = 0
        if let bias {
            for oc in 0..<o { (dst + oc * spatial).update(repeating: bias.data[oc], count: cols) }
            beta = 1
        }
        for t in 0..<3 {
            guard let src = source(t) else { continue }
            BLAS.sgemm(m: o, n: cols, k: c, a: taps + t * o * c, lda: c, b: src + start, ldb: spatial,
                       beta: beta, c: dst, ldc: spatial)
            beta = 1
        }
        if beta == 0 { for oc in 0..<o { (dst + oc * spatial).update(repeating: 0, count: cols) } }
    }
}
