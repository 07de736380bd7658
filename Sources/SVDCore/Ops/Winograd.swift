/// 3×3 convolutions (stride 1, padding 1) by Winograd's minimal filtering F(2×2, 3×3): each 2×2 block of
/// outputs comes from a 4×4 input tile through 16 products instead of 36, so the GEMM work is 2.25× smaller
/// than im2col's. The transforms use only ±1 and ½, which keeps the rounding error at the level of the direct
/// product. Tiles are taken across image boundaries in fixed panels, as in `Convolution.panelProduct`, so
/// results do not depend on the worker count.
enum Winograd {
    static let panelFloats = 1 << 22

    /// Used for layers wide enough that 16 products of depth C beat one im2col product of depth 9·C.
    static func applies(channels: Int, kh: Int, kw: Int, stride: Int, padding: Padding2D) -> Bool {
        kh == 3 && kw == 3 && stride == 1 && padding == .same(1) && channels >= 128
    }

    static func conv3x3(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = weight.shape[0]
        let total = n * TileGrid(height: h, width: w).perImage
        let out = Tensor(uninitialized: [n, o, h, w])
        // U[ξ][o][c] = (G g Gᵀ)[ξ] = Σ_k (G ⊗ G)[ξ][k] · g[o][c][k]: one product per call (U is 16/9 of the
        // weight, too big to keep for every layer), split into fixed column chunks.
        let pairs = o * c
        ScratchPool.shared.withFloats(16 * pairs) { u in
            let wp = weight.data
            kernelTransform.withUnsafeBufferPointer { gg in
                Parallel.forChunks(pairs, chunk: 1 << 16) { r in
                    BLAS.sgemm(transB: true, m: 16, n: r.count, k: 9, a: gg.baseAddress!, lda: 9, b: wp + r.lowerBound * 9,
                               ldb: 9, c: u + r.lowerBound, ldc: pairs)
                }
            }
            let panels = Convolution.panelCount(total, maxPerPanel: max(16, panelFloats / (16 * c)))
            let panelTiles = (total + panels - 1) / panels
            let block = Convolution.channelBlock(outChannels: o, panels: panels)
            let blocks = (o + block - 1) / block
            let grid = TileGrid(height: h, width: w)
            Parallel.forEach(panels * blocks) { task in
                let first = (task / blocks) * panelTiles
                let tiles = min(panelTiles, total - first)
                let o0 = (task % blocks) * block, rows = min(block, o - o0)
                ScratchPool.shared.withFloats(16 * (c + rows) * tiles) { v in
                    let m = v + 16 * c * tiles
                    transformInputs(x.data, channels: c, grid: grid, tiles: first..<(first + tiles), into: v)
                    for xi in 0..<16 {
                        BLAS.sgemm(m: rows, n: tiles, k: c, a: u + (xi * o + o0) * c, lda: c, b: v + xi * c * tiles,
                                   ldb: tiles, c: m + xi * rows * tiles, ldc: tiles)
                    }
                    transformOutputs(m, outChannels: o, rows: o0..<(o0 + rows), bias: bias?.data, grid: grid,
                                     tiles: first..<(first + tiles), into: out.data)
                }
            }
        }
        withExtendedLifetime((x, weight, bias)) {}
        return out
    }

    /// The 2×2 output tiles of one image plane, numbered row by row and image after image.
    struct TileGrid {
        let height, width, tilesWide, perImage: Int
        init(height: Int, width: Int) {
            self.height = height
            self.width = width
            tilesWide = (width + 1) / 2
            perImage = (height + 1) / 2 * tilesWide
        }
        func locate(_ tile: Int) -> (image: Int, ty: Int, tx: Int) {
            (tile / perImage, (tile % perImage) / tilesWide, tile % tilesWide)
        }
    }

    /// V[ξ][ch][t] for the panel's tiles, channel by channel so each of the 16 planes is written sequentially.
    /// Each tile-row segment is first copied into 4 zero-padded rows, so every run of 8 tiles takes the vector
    /// path (the same operations as the scalar path, which does the remainder).
    static func transformInputs(_ x: UnsafePointer<Float>, channels c: Int, grid g: TileGrid, tiles: Range<Int>,
                                into v: UnsafeMutablePointer<Float>) {
        let count = tiles.count, h = g.height, w = g.width
        let rowStride = 2 * g.tilesWide + 2 + 16
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * rowStride) { buffer in
            let rows4 = buffer.baseAddress!
            for ch in 0..<c {
                var t = 0
                while t < count {
                    let (image, ty, tx) = g.locate(tiles.lowerBound + t)
                    let run = min(g.tilesWide - tx, count - t)
                    let plane = x + (image * c + ch) * h * w
                    let x0 = 2 * tx - 1, span = 2 * run + 2
                    for i in 0..<4 {
                        let dst = rows4 + i * rowStride, y = 2 * ty - 1 + i
                        dst.update(repeating: 0, count: rowStride)
                        guard y >= 0 && y < h else { continue }
                        let lo = max(x0, 0), hi = min(x0 + span, w)
                        if hi > lo { (dst + (lo - x0)).update(from: plane + y * w + lo, count: hi - lo) }
                    }
                    var k = 0
                    while k + 8 <= run {
                        transformInput8(rows4, width: rowStride, y0: 0, x0: 2 * k, into: v + ch * count + t + k,
                                        stride: c * count)
                        k += 8
                    }
                    while k < run {
                        transformInput(rows4, height: 4, width: rowStride, y0: 0, x0: 2 * k, into: v + ch * count + t + k,
                                       stride: c * count)
                        k += 1
                    }
                    t += run
                }
            }
        }
    }

    /// Output rows `rows` (channels) of the panel's tiles from M[ξ][row][t], plus bias, into out [N, O, H, W].
    static func transformOutputs(_ m: UnsafePointer<Float>, outChannels o: Int, rows: Range<Int>, bias: UnsafePointer<Float>?,
                                 grid g: TileGrid, tiles: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let count = tiles.count, h = g.height, w = g.width
        for (r, oc) in rows.enumerated() {
            let shift = bias?[oc] ?? 0
            var t = 0
            while t < count {
                let (image, ty, tx) = g.locate(tiles.lowerBound + t)
                let plane = out + (image * o + oc) * h * w
                if t + 8 <= count && 2 * tx + 15 < w && 2 * ty + 1 < h {
                    transformOutput8(m + r * count + t, stride: rows.count * count, bias: shift, into: plane, width: w,
                                     y: 2 * ty, x: 2 * tx)
                    t += 8
                } else {
                    transformOutput(m + r * count + t, stride: rows.count * count, bias: shift, into: plane,
                                    height: h, width: w, y: 2 * ty, x: 2 * tx)
                    t += 1
                }
            }
        }
    }

    /// G ⊗ G (16 × 9), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]: row ξ = 4i + j maps g (row-major 3×3) to U[i][j].
    static let kernelTransform: [Float] = {
        let g: [[Float]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        var t = [Float](repeating: 0, count: 16 * 9)
        for i in 0..<4 { for j in 0..<4 { for ky in 0..<3 { for kx in 0..<3 {
            t[(i * 4 + j) * 9 + ky * 3 + kx] = g[i][ky] * g[j][kx]
        } } } }
        return t
    }()

    /// V = Bᵀ d B for the 4×4 input tile at (y0, x0) (zero outside the image), with
    /// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]; element ξ stored at dst[ξ·stride].
    @inline(__always)
    static func transformInput(_ plane: UnsafePointer<Float>, height: Int, width: Int, y0: Int, x0: Int,
                               into dst: UnsafeMutablePointer<Float>, stride: Int) {
        var d = SIMD16<Float>()
        if y0 >= 0 && y0 + 3 < height && x0 >= 0 && x0 + 3 < width {
            for i in 0..<4 {
                let row = plane + (y0 + i) * width + x0
                d[i * 4] = row[0]; d[i * 4 + 1] = row[1]; d[i * 4 + 2] = row[2]; d[i * 4 + 3] = row[3]
            }
        } else {
            for i in 0..<4 where y0 + i >= 0 && y0 + i < height {
                let row = plane + (y0 + i) * width
                for j in 0..<4 where x0 + j >= 0 && x0 + j < width { d[i * 4 + j] = row[x0 + j] }
            }
        }
        // Rows: Bᵀ d.
        let r0 = d.lowHalf.lowHalf - d.highHalf.lowHalf
        let r1 = d.lowHalf.highHalf + d.highHalf.lowHalf
        let r2 = d.highHalf.lowHalf - d.lowHalf.highHalf
        let r3 = d.lowHalf.highHalf - d.highHalf.highHalf
        @inline(__always) func store(_ r: SIMD4<Float>, _ i: Int) {
            dst[(i * 4) * stride] = r[0] - r[2]
            dst[(i * 4 + 1) * stride] = r[1] + r[2]
            dst[(i * 4 + 2) * stride] = r[2] - r[1]
            dst[(i * 4 + 3) * stride] = r[1] - r[3]
        }
        store(r0, 0); store(r1, 1); store(r2, 2); store(r3, 3)
    }

    /// `transformInput` for 8 consecutive tiles lying inside the plane (x0 ≥ 0, x0 + 17 < width), one lane each.
    @inline(__always)
    static func transformInput8(_ plane: UnsafePointer<Float>, width: Int, y0: Int, x0: Int,
                                into dst: UnsafeMutablePointer<Float>, stride: Int) {
        let raw = UnsafeRawPointer(plane)
        @inline(__always) func row(_ i: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
            let base = 4 * ((y0 + i) * width + x0)
            let a = raw.loadUnaligned(fromByteOffset: base, as: SIMD16<Float>.self)
            let b = raw.loadUnaligned(fromByteOffset: base + 8, as: SIMD16<Float>.self)
            return (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
        }
        let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
        let out = UnsafeMutableRawPointer(dst)
        @inline(__always) func store(_ r: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>), _ i: Int) {
            out.storeBytes(of: r.0 - r.2, toByteOffset: 4 * (i * 4) * stride, as: SIMD8<Float>.self)
            out.storeBytes(of: r.1 + r.2, toByteOffset: 4 * (i * 4 + 1) * stride, as: SIMD8<Float>.self)
            out.storeBytes(of: r.2 - r.1, toByteOffset: 4 * (i * 4 + 2) * stride, as: SIMD8<Float>.self)
            out.storeBytes(of: r.1 - r.3, toByteOffset: 4 * (i * 4 + 3) * stride, as: SIMD8<Float>.self)
        }
        store((d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3), 0)
        store((d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3), 1)
        store((d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3), 2)
        store((d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3), 3)
    }

    /// `transformOutput` for 8 consecutive tiles whose 2×2 blocks all lie inside the plane.
    @inline(__always)
    static func transformOutput8(_ m: UnsafePointer<Float>, stride: Int, bias: Float, into plane: UnsafeMutablePointer<Float>,
                                 width: Int, y: Int, x: Int) {
        let raw = UnsafeRawPointer(m)
        @inline(__always) func load(_ xi: Int) -> SIMD8<Float> {
            raw.loadUnaligned(fromByteOffset: 4 * xi * stride, as: SIMD8<Float>.self)
        }
        var a = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        var b = a
        a.0 = load(0) + load(4) + load(8); b.0 = load(4) - load(8) - load(12)
        a.1 = load(1) + load(5) + load(9); b.1 = load(5) - load(9) - load(13)
        a.2 = load(2) + load(6) + load(10); b.2 = load(6) - load(10) - load(14)
        a.3 = load(3) + load(7) + load(11); b.3 = load(7) - load(11) - load(15)
        let s = SIMD8<Float>(repeating: bias)
        let y00 = a.0 + a.1 + a.2 + s, y01 = a.1 - a.2 - a.3 + s
        let y10 = b.0 + b.1 + b.2 + s, y11 = b.1 - b.2 - b.3 + s
        let row0 = plane + y * width + x, row1 = row0 + width
        for k in 0..<8 {
            row0[2 * k] = y00[k]; row0[2 * k + 1] = y01[k]
            row1[2 * k] = y10[k]; row1[2 * k + 1] = y11[k]
        }
    }

    /// Y = Aᵀ M A + bias with Aᵀ = [1 1 1 0; 0 1 −1 −1], written to the 2×2 block at (y, x) where inside.
    @inline(__always)
    static func transformOutput(_ m: UnsafePointer<Float>, stride: Int, bias: Float, into plane: UnsafeMutablePointer<Float>,
                                height: Int, width: Int, y: Int, x: Int) {
        var rows = (SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>())
        rows.0 = SIMD4(m[0], m[stride], m[2 * stride], m[3 * stride])
        rows.1 = SIMD4(m[4 * stride], m[5 * stride], m[6 * stride], m[7 * stride])
        rows.2 = SIMD4(m[8 * stride], m[9 * stride], m[10 * stride], m[11 * stride])
        rows.3 = SIMD4(m[12 * stride], m[13 * stride], m[14 * stride], m[15 * stride])
        let a = rows.0 + rows.1 + rows.2
        let b = rows.1 - rows.2 - rows.3
        let y00 = a[0] + a[1] + a[2] + bias, y01 = a[1] - a[2] - a[3] + bias
        let y10 = b[0] + b[1] + b[2] + bias, y11 = b[1] - b[2] - b[3] + bias
        let row0 = plane + y * width + x
        row0[0] = y00
        if x + 1 < width { row0[1] = y01 }
        if y + 1 < height {
            let row1 = row0 + width
            row1[0] = y10
            if x + 1 < width { row1[1] = y11 }
        }
    }
}
