/// The stage the spatial and temporal Winograd convolutions share: for every transform point ξ, the product of
/// the transformed kernels U[ξ] (O × C) with the transformed inputs V[ξ] (C × columns), over fixed panels of
/// columns and blocks of output channels (chosen from the shapes only, so results do not depend on the worker
/// count), each task finishing with the output transform of its block.
/// Narrow layers (`NarrowProduct`) multiply unpacked in panels small enough to stay in L2.
struct WinogradProducts {
    /// V floats per panel of a narrow layer (its M is about as large).
    static let narrowPanelFloats = 1 << 17

    /// U[ξ][first + i] for pairs (out, in) first..<first+count, written at into[ξ·stride + i].
    typealias KernelTransform = (_ first: Int, _ count: Int, _ stride: Int, _ into: UnsafeMutablePointer<Float>) -> Void
    /// V[ξ][ch][column] for channels `channels` and the panel's `columns`, relative to the panel.
    typealias InputTransform = (_ channels: Range<Int>, _ columns: Range<Int>, _ into: UnsafeMutablePointer<Float>) -> Void
    /// Output channels `rows` of the panel's `columns` from M[ξ][row][column].
    typealias OutputTransform = (_ m: UnsafePointer<Float>, _ rows: Range<Int>, _ columns: Range<Int>) -> Void

    let points, channels, outChannels, columns: Int
    let panels, panelColumns, block, blocks: Int
    let narrow: Bool

    init(points: Int, channels c: Int, outChannels o: Int, columns: Int, minPanel: Int) {
        self.points = points
        channels = c
        outChannels = o
        self.columns = columns
        narrow = NarrowProduct.applies(depth: c)
        let floats = narrow ? Self.narrowPanelFloats : Convolution.panelFloats
        panels = Convolution.panelCount(columns, maxPerPanel: max(minPanel, floats / (points * c)))
        panelColumns = (columns + panels - 1) / panels
        block = Convolution.channelBlock(outChannels: o, panels: panels)
        blocks = (o + block - 1) / block
    }

    func columns(ofPanel p: Int) -> Range<Int> { (p * panelColumns)..<min(columns, (p + 1) * panelColumns) }

    func run(kernels: KernelTransform, inputs: InputTransform, outputs: OutputTransform) {
        let c = channels, o = outChannels, pairs = o * c
        /// Products and output transform of one (panel, block) task from the panel's V and the block's U (row
        /// stride c, ξ stride uStride).
        func multiply(_ v: UnsafePointer<Float>, panel p: Int, block b: Int, u: UnsafePointer<Float>, uStride: Int) {
            let range = columns(ofPanel: p), count = range.count
            let o0 = b * block, rows = min(block, o - o0)
            // 8 floats of slack: a vectorised output transform may read past the panel's last column.
            ScratchPool.shared.withFloats(points * rows * count + 8) { m in
                for xi in 0..<points {
                    let a = u + xi * uStride, b = v + xi * c * count, product = m + xi * rows * count
                    if narrow {
                        NarrowProduct.multiply(m: rows, n: count, k: c, a: a, lda: c, b: b, ldb: count, c: product, ldc: count)
                    } else {
                        BLAS.sgemm(m: rows, n: count, k: c, a: a, lda: c, b: b, ldb: count, c: product, ldc: count)
                    }
                }
                outputs(m, o0..<(o0 + rows), range)
            }
        }
        /// V of every panel (points × C × panelColumns floats apart), once, in parallel over channel ranges.
        func transformAllInputs(into v: UnsafeMutablePointer<Float>) {
            let chunk = (c + Parallel.targetTasks - 1) / Parallel.targetTasks
            let chunks = (c + chunk - 1) / chunk
            Parallel.forEach(panels * chunks) { task in
                let p = task / chunks, first = (task % chunks) * chunk
                inputs(first..<min(c, first + chunk), columns(ofPanel: p), v + p * points * c * panelColumns)
            }
        }
        if panels == 1 {
            // One panel split into output blocks: each block transforms its own slice of the kernels, used once.
            ScratchPool.shared.withFloats(points * c * columns) { v in
                transformAllInputs(into: v)
                Parallel.forEach(blocks) { b in
                    let o0 = b * block, rows = min(block, o - o0)
                    ScratchPool.shared.withFloats(points * rows * c) { u in
                        kernels(o0 * c, rows * c, rows * c, u)
                        multiply(v, panel: 0, block: b, u: u, uStride: rows * c)
                    }
                }
            }
            return
        }
        // U for all kernels, shared by the panels; transformed on every call (it is points/taps of the weight in
        // float32, too big to keep for every layer).
        ScratchPool.shared.withFloats(points * pairs) { u in
            Parallel.forChunks(pairs, chunk: 1 << 15) { r in kernels(r.lowerBound, r.count, pairs, u + r.lowerBound) }
            if blocks == 1 {
                Parallel.forEach(panels) { p in
                    ScratchPool.shared.withFloats(points * c * columns(ofPanel: p).count) { v in
                        inputs(0..<c, columns(ofPanel: p), v)
                        multiply(v, panel: p, block: 0, u: u, uStride: pairs)
                    }
                }
            } else {
                // Few panels: each panel's inputs are transformed once, shared by its output blocks.
                ScratchPool.shared.withFloats(panels * points * c * panelColumns) { v in
                    transformAllInputs(into: v)
                    Parallel.forEach(panels * blocks) { task in
                        let p = task / blocks, b = task % blocks
                        multiply(v + p * points * c * panelColumns, panel: p, block: b, u: u + b * block * c,
                                 uStride: pairs)
                    }
                }
            }
        }
    }
}
