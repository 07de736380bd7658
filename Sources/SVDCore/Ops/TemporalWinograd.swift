/// The temporal (3, 1, 1) convolution by the one-dimensional Winograd F(2, 3) along the frames: each pair of
/// output frames comes from four input frames through 4 products instead of 6, so the GEMM work is 1.5× smaller
/// than one product of depth 3·C. Transforms use only ±1 and ½. Columns run over (video, frame pair, position)
/// and are cut into fixed panels, so results do not depend on the worker count.
///
/// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 −1 −1].
enum TemporalWinograd {
    /// Wide layers of videos long enough that the padding of an odd last pair costs little.
    static func applies(channels: Int, frames: Int) -> Bool { channels >= 128 && frames >= 4 }

    /// x [videos·frames, C, S], weight [O, C, 3, 1, 1] → [videos·frames, O, S].
    static func conv(_ x: Tensor, weight: Tensor, bias: Tensor?, frames: Int) -> Tensor {
        let rows = x.shape[0], c = x.shape[1], o = weight.shape[0]
        let spatial = x.count / (rows * c)
        let layout = Layout(videos: rows / frames, frames: frames, spatial: spatial)
        let out = Tensor(uninitialized: [rows, o] + Array(x.shape.dropFirst(2)))
        let xp = x.data, wp = weight.data, op = out.data, bp = bias?.data
        let products = WinogradProducts(points: 4, channels: c, outChannels: o, columns: layout.columns, minPanel: 64)
        products.run(kernels: { first, count, stride, u in
            // U[ξ] = (G g)[ξ].
            for i in 0..<count {
                let g = wp + 3 * (first + i), s = g[0] + g[2]
                u[i] = g[0]
                u[stride + i] = (s + g[1]) * 0.5
                u[2 * stride + i] = (s - g[1]) * 0.5
                u[3 * stride + i] = g[2]
            }
        }, inputs: { channels, columns, v in
            transformInputs(xp, layout: layout, channels: c, range: channels, columns: columns, into: v)
        }, outputs: { m, rows, columns in
            transformOutputs(m, layout: layout, outChannels: o, rows: rows, bias: bp, columns: columns, into: op)
        })
        withExtendedLifetime((x, weight, bias)) {}
        return out
    }

    /// Columns (video, frame pair, position), numbered in that order.
    struct Layout {
        let videos, frames, spatial, pairs: Int
        init(videos: Int, frames: Int, spatial: Int) {
            self.videos = videos
            self.frames = frames
            self.spatial = spatial
            pairs = (frames + 1) / 2
        }
        var columns: Int { videos * pairs * spatial }

        /// Runs of one (video, pair) within `columns`: body(video, pair, first position, count, offset in range).
        func segments(_ columns: Range<Int>, _ body: (Int, Int, Int, Int, Int) -> Void) {
            Convolution.segments(columns, positions: spatial) { unit, s, count, offset in
                body(unit / pairs, unit % pairs, s, count, offset)
            }
        }
    }

    /// V[ξ][ch][column] = (Bᵀ d)[ξ] over the frames 2t−1 … 2t+2 (zero outside the video), for channels `range`.
    static func transformInputs(_ x: UnsafePointer<Float>, layout: Layout, channels c: Int, range: Range<Int>,
                                columns: Range<Int>, into v: UnsafeMutablePointer<Float>) {
        let count = columns.count, s = layout.spatial, f = layout.frames
        let zeros = [Float](repeating: 0, count: min(s, count))
        zeros.withUnsafeBufferPointer { zero in
            layout.segments(columns) { video, pair, s0, n, offset in
                for ch in range {
                    func tap(_ i: Int) -> UnsafePointer<Float> {
                        let frame = 2 * pair - 1 + i
                        return frame >= 0 && frame < f ? x + ((video * f + frame) * c + ch) * s + s0 : zero.baseAddress!
                    }
                    let d0 = tap(0), d1 = tap(1), d2 = tap(2), d3 = tap(3)
                    let v0 = v + ch * count + offset, stride = c * count
                    let v1 = v0 + stride, v2 = v1 + stride, v3 = v2 + stride
                    for j in 0..<n {
                        v0[j] = d0[j] - d2[j]
                        v1[j] = d1[j] + d2[j]
                        v2[j] = d2[j] - d1[j]
                        v3[j] = d1[j] - d3[j]
                    }
                }
            }
        }
    }

    /// Frames 2t and 2t+1 (when inside the video) of output channels `rows` from M[ξ][row][column], plus bias.
    static func transformOutputs(_ m: UnsafePointer<Float>, layout: Layout, outChannels o: Int, rows: Range<Int>,
                                 bias: UnsafePointer<Float>?, columns: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let count = columns.count, s = layout.spatial, f = layout.frames, stride = rows.count * count
        layout.segments(columns) { video, pair, s0, n, offset in
            for (r, oc) in rows.enumerated() {
                let shift = bias?[oc] ?? 0
                let m0 = m + r * count + offset, m1 = m0 + stride, m2 = m1 + stride, m3 = m2 + stride
                let y0 = out + ((video * f + 2 * pair) * o + oc) * s + s0
                for j in 0..<n { y0[j] = m0[j] + m1[j] + m2[j] + shift }
                guard 2 * pair + 1 < f else { continue }
                let y1 = y0 + o * s
                for j in 0..<n { y1[j] = m1[j] - m2[j] - m3[j] + shift }
            }
        }
    }
}
