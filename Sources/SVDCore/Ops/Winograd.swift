import CVectorMath

/// 3×3 convolutions (stride 1, padding 1) by Winograd's minimal filtering F(m×m, 3×3): each m×m block of outputs
/// comes from an (m+2)×(m+2) input tile through (m+2)² products instead of 9m². F(2×2) (16 products for 4
/// outputs, transforms of ±1 and ½ only) serves small maps; F(4×4) (36 products for 16 outputs: 4× less GEMM
/// work than im2col, with transforms of small integers and 1/4, 1/6, 1/12, 1/24) serves maps where its tiles
/// waste little. The choice depends on the map size only. Tiles are taken across image boundaries in fixed
/// panels, as in `Convolution.panelProduct`, so results do not depend on the worker count.
enum Winograd {
    /// Used for every 3×3 same-padded layer but the narrowest (the VAE's and UNet's input layers, the VAE's RGB
    /// output), where the transforms would cost more than the products they save.
    static func applies(channels: Int, outChannels: Int, kh: Int, kw: Int, stride: Int, padding: Padding2D) -> Bool {
        kh == 3 && kw == 3 && stride == 1 && padding == .same(1)
            && (!NarrowProduct.applies(depth: channels) || (channels >= 16 && outChannels >= 16))
    }

    /// F(4×4) where it needs fewer products than F(2×2), counting the padding of partial tiles.
    static func usesLargeTiles(height h: Int, width w: Int) -> Bool {
        36 * ((h + 3) / 4) * ((w + 3) / 4) < 16 * ((h + 1) / 2) * ((w + 1) / 2)
    }

    /// `input`, if given, is applied to x as it is read (zero padding stays zero, as for a normalised copy).
    static func conv3x3(_ x: Tensor, weight: Tensor, bias: Tensor?, input: ChannelAffine? = nil) -> Tensor {
        usesLargeTiles(height: x.shape[2], width: x.shape[3])
            ? conv3x3(x, weight: weight, bias: bias, tiled: F4.self, input: input)
            : conv3x3(x, weight: weight, bias: bias, tiled: F2.self, input: input)
    }

    /// One tiling chosen at run time (tests compare both).
    static func conv3x3(_ x: Tensor, weight: Tensor, bias: Tensor?, tiling: WinogradTiling.Type) -> Tensor {
        tiling.conv(x, weight: weight, bias: bias)
    }

    static func conv3x3<T: WinogradTiling>(_ x: Tensor, weight: Tensor, bias: Tensor?, tiled: T.Type,
                                           input: ChannelAffine? = nil) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = weight.shape[0]
        let grid = TileGrid(height: h, width: w, tile: T.m)
        let out = Tensor(uninitialized: [n, o, h, w])
        let xp = x.data, wp = weight.data, op = out.data, bp = bias?.data
        let products = WinogradProducts(points: T.alpha * T.alpha, channels: c, outChannels: o,
                                        columns: n * grid.perImage, minPanel: 16)
        products.run(kernels: { first, count, stride, u in
            svm_winograd_kernels(wp + first * 9, stride, 0, count, u, Int32(T.alpha))
        }, inputs: { channels, tiles, v in
            T.transformInputs(xp, channels: c, range: channels, grid: grid, tiles: tiles, input: input, into: v)
        }, outputs: { m, rows, tiles in
            T.transformOutputs(m, outChannels: o, rows: rows, bias: bp, grid: grid, tiles: tiles, into: op)
        })
        withExtendedLifetime((x, weight, bias, input)) {}
        return out
    }

    /// The m×m output tiles of one image plane, numbered row by row and image after image.
    struct TileGrid {
        let height, width, tile, tilesWide, perImage: Int
        init(height: Int, width: Int, tile: Int) {
            self.height = height
            self.width = width
            self.tile = tile
            tilesWide = (width + tile - 1) / tile
            perImage = (height + tile - 1) / tile * tilesWide
        }
        func locate(_ t: Int) -> (image: Int, ty: Int, tx: Int) {
            (t / perImage, (t % perImage) / tilesWide, t % tilesWide)
        }

        /// For each output channel of `rows` and each run of `tiles` within one tile row: body(index in `rows`,
        /// the channel's bias, its plane of out [N, O, H, W], index of the run's first tile in `tiles`, tile row,
        /// tile column, tiles in the run).
        func outputRuns(outChannels o: Int, rows: Range<Int>, bias: UnsafePointer<Float>?, tiles: Range<Int>,
                        out: UnsafeMutablePointer<Float>,
                        _ body: (Int, Float, UnsafeMutablePointer<Float>, Int, Int, Int, Int) -> Void) {
            for (r, oc) in rows.enumerated() {
                let shift = bias?[oc] ?? 0
                var t = 0
                while t < tiles.count {
                    let (image, ty, tx) = locate(tiles.lowerBound + t)
                    let run = min(tilesWide - tx, tiles.count - t)
                    body(r, shift, out + (image * o + oc) * height * width, t, ty, tx, run)
                    t += run
                }
            }
        }

        /// For each channel of `channels` and each run of `tiles` within one tile row: copies the run's
        /// tile + 2 input rows (from one column left of the run, zero outside the plane; through `input` if
        /// given) into `rows` (row stride rowStride, zero beyond the run), then calls body(channel, index of the
        /// run's first tile in `tiles`, tiles in the run).
        func paddedRuns(_ x: UnsafePointer<Float>, planeChannels c: Int, channels: Range<Int>, tiles: Range<Int>,
                        input: ChannelAffine?, rows: UnsafeMutablePointer<Float>, rowStride: Int,
                        _ body: (Int, Int, Int) -> Void) {
            for ch in channels {
                var t = 0
                while t < tiles.count {
                    let (image, ty, tx) = locate(tiles.lowerBound + t)
                    let run = min(tilesWide - tx, tiles.count - t)
                    let plane = x + (image * c + ch) * height * width
                    let x0 = tile * tx - 1, span = tile * run + 2
                    for i in 0..<(tile + 2) {
                        let dst = rows + i * rowStride, y = tile * ty - 1 + i
                        dst.update(repeating: 0, count: rowStride)
                        guard y >= 0 && y < height else { continue }
                        let lo = max(x0, 0), hi = min(x0 + span, width)
                        guard hi > lo else { continue }
                        if let input {
                            input.apply(plane: image * c + ch, plane + y * width + lo, into: dst + (lo - x0), count: hi - lo)
                        } else {
                            (dst + (lo - x0)).update(from: plane + y * width + lo, count: hi - lo)
                        }
                    }
                    body(ch, t, run)
                    t += run
                }
            }
        }
    }
}

/// One Winograd tile size: its three transforms.
protocol WinogradTiling {
    /// Output tile side m; input tiles are alpha = m + 2 wide.
    static var m: Int { get }
    static var alpha: Int { get }
    /// V[ξ][ch][t] for the panel's tiles and the channels `range` of the input's `channels` (read through
    /// `input` if given).
    static func transformInputs(_ x: UnsafePointer<Float>, channels: Int, range: Range<Int>, grid: Winograd.TileGrid,
                                tiles: Range<Int>, input: ChannelAffine?, into v: UnsafeMutablePointer<Float>)
    /// Output rows `rows` (channels) of the panel's tiles from M[ξ][row][t], plus bias, into out [N, O, H, W].
    static func transformOutputs(_ m: UnsafePointer<Float>, outChannels: Int, rows: Range<Int>, bias: UnsafePointer<Float>?,
                                 grid: Winograd.TileGrid, tiles: Range<Int>, into out: UnsafeMutablePointer<Float>)
}

extension Winograd {
    /// F(2×2, 3×3): Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
    /// Aᵀ = [1 1 1 0; 0 1 −1 −1].
    enum F2: WinogradTiling {
        static let m = 2, alpha = 4

        /// V[ξ][ch][t] for the panel's tiles, channel by channel so each of the 16 planes is written sequentially.
        /// Each tile-row segment is first copied into 4 zero-padded rows, so every run of 8 tiles takes the vector
        /// path (the same operations as the scalar path, which does the remainder).
        static func transformInputs(_ x: UnsafePointer<Float>, channels c: Int, range: Range<Int>, grid g: TileGrid,
                                    tiles: Range<Int>, input: ChannelAffine?, into v: UnsafeMutablePointer<Float>) {
            let count = tiles.count
            let rowStride = 2 * g.tilesWide + 2 + 16
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * rowStride) { buffer in
                let rows4 = buffer.baseAddress!
                g.paddedRuns(x, planeChannels: c, channels: range, tiles: tiles, input: input, rows: rows4,
                             rowStride: rowStride) { ch, t, run in
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
                }
            }
        }

        /// Output rows `rows` (channels) of the panel's tiles from M[ξ][row][t], plus bias, into out [N, O, H, W].
        static func transformOutputs(_ m: UnsafePointer<Float>, outChannels o: Int, rows: Range<Int>, bias: UnsafePointer<Float>?,
                                     grid g: TileGrid, tiles: Range<Int>, into out: UnsafeMutablePointer<Float>) {
            let count = tiles.count, h = g.height, w = g.width
            g.outputRuns(outChannels: o, rows: rows, bias: bias, tiles: tiles, out: out) { r, shift, plane, t, ty, tx, run in
                var k = 0
                while k < run {
                    let x = 2 * (tx + k)
                    if k + 8 <= run && x + 15 < w && 2 * ty + 1 < h {
                        transformOutput8(m + r * count + t + k, stride: rows.count * count, bias: shift, into: plane,
                                         width: w, y: 2 * ty, x: x)
                        k += 8
                    } else {
                        transformOutput(m + r * count + t + k, stride: rows.count * count, bias: shift, into: plane,
                                        height: h, width: w, y: 2 * ty, x: x)
                        k += 1
                    }
                }
            }
        }

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
}

extension Winograd {
    /// F(4×4, 3×3) on the points 0, ±1, ±2 (Lavin & Gray):
    /// Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1],
    /// G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1],
    /// Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
    enum F4: WinogradTiling {
        static let m = 4, alpha = 6
        /// V[ξ][ch][t] for the panel's tiles, channel by channel. Each tile-row segment is first copied into 6
        /// zero-padded rows; groups of 8 tiles are then transformed one tile per lane (`svm_winograd_f4_inputs8`;
        /// a last, partial group stores only its valid lanes).
        static func transformInputs(_ x: UnsafePointer<Float>, channels c: Int, range: Range<Int>,
                                    grid g: Winograd.TileGrid, tiles: Range<Int>, input: ChannelAffine?,
                                    into v: UnsafeMutablePointer<Float>) {
            let count = tiles.count
            let rowStride = 4 * g.tilesWide + 40   // room for the 36-float reads of a group starting at any tile
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 6 * rowStride) { buffer in
                let rows6 = buffer.baseAddress!
                g.paddedRuns(x, planeChannels: c, channels: range, tiles: tiles, input: input, rows: rows6,
                             rowStride: rowStride) { ch, t, run in
                    for k in stride(from: 0, to: run, by: 8) {
                        svm_winograd_f4_inputs8(rows6 + 4 * k, rowStride, Int32(min(8, run - k)),
                                                v + ch * count + t + k, c * count)
                    }
                }
            }
        }

        /// Output rows `rows` (channels) of the panel's tiles from M[ξ][row][t], plus bias, into out [N, O, H, W],
        /// 8 tiles at a time (`svm_winograd_f4_outputs8`, which drops what falls outside the plane; lanes past
        /// the run read the product's slack).
        static func transformOutputs(_ m: UnsafePointer<Float>, outChannels o: Int, rows: Range<Int>,
                                     bias: UnsafePointer<Float>?, grid g: Winograd.TileGrid, tiles: Range<Int>,
                                     into out: UnsafeMutablePointer<Float>) {
            let count = tiles.count, h = g.height, w = g.width
            g.outputRuns(outChannels: o, rows: rows, bias: bias, tiles: tiles, out: out) { r, shift, plane, t, ty, tx, run in
                let y = 4 * ty, valid = Int32(min(4, h - y))
                for k in stride(from: 0, to: run, by: 8) {
                    let x = 4 * (tx + k)
                    svm_winograd_f4_outputs8(m + r * count + t + k, rows.count * count, shift, valid,
                                             Int32(min(4 * min(8, run - k), w - x)), plane + y * w + x, w)
                }
            }
        }
    }
}

extension WinogradTiling {
    static func conv(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        Winograd.conv3x3(x, weight: weight, bias: bias, tiled: Self.self)
    }
}
