/// Fully connected layers and plain matrix products on row-major tensors.
public enum Linear {
    /// Rows per BLAS call of row-blocked callers: fixed, so the partition (and every result bit) is independent
    /// of the worker count.
    public static let rowChunk = 256

    /// y[..., out] = x[..., in] · Wᵀ + b, with W stored (out, in) as in PyTorch.
    public static func apply(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        precondition(x.shape.last == inFeatures, "linear: input \(x.shape) vs weight \(weight.shape)")
        let rows = x.count / inFeatures
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
        product(x.data, rows: rows, weight: weight, bias: bias, into: out.data)
        return out
    }

    /// out[rows, out] = x[rows, in] · Wᵀ + b over a `ProductPartition` of the output, in parallel.
    public static func product(_ x: UnsafePointer<Float>, rows: Int, weight: Tensor, bias: Tensor?,
                               into out: UnsafeMutablePointer<Float>) {
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        let plan = ProductPartition(rows: rows, columns: outFeatures)
        Parallel.forEach(plan.tasks) { task in
            let (r, c) = plan.block(task)
            blockProduct(x + r.lowerBound * inFeatures, rows: r.count, weight: weight, bias: bias, columns: c,
                         into: out + r.lowerBound * outFeatures)
        }
        withExtendedLifetime((weight, bias)) {}
    }

    /// One BLAS call on a block of rows: out[rows, out] = x[rows, in] · Wᵀ + b. Single-threaded; callers
    /// partition rows themselves.
    @inline(__always)
    public static func rowsProduct(_ x: UnsafePointer<Float>, rows: Int, weight: Tensor, bias: Tensor?,
                                   into out: UnsafeMutablePointer<Float>) {
        blockProduct(x, rows: rows, weight: weight, bias: bias, columns: 0..<weight.shape[0], into: out)
    }

    /// Output columns `columns` of `rowsProduct` (out keeps the full row stride). Narrow layers
    /// (`NarrowProduct`) multiply a transposed copy of the block's weights, then add the bias; wider ones go
    /// through BLAS, from the bias.
    @inline(__always)
    static func blockProduct(_ x: UnsafePointer<Float>, rows: Int, weight: Tensor, bias: Tensor?, columns: Range<Int>,
                             into out: UnsafeMutablePointer<Float>) {
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        if NarrowProduct.applies(depth: inFeatures) {
            let n = columns.count, w = weight.data + columns.lowerBound * inFeatures
            ScratchPool.shared.withFloats(inFeatures * n) { transposed in
                for j in 0..<n { for p in 0..<inFeatures { transposed[p * n + j] = w[j * inFeatures + p] } }
                NarrowProduct.multiply(m: rows, n: n, k: inFeatures, a: x, lda: inFeatures, b: transposed, ldb: n,
                                       c: out + columns.lowerBound, ldc: outFeatures)
            }
            if let bias {
                let b = bias.data + columns.lowerBound
                for i in 0..<rows {
                    let row = out + i * outFeatures + columns.lowerBound
                    for j in 0..<n { row[j] += b[j] }
                }
            }
            return
        }
        if let bias {
            for i in 0..<rows {
                (out + i * outFeatures + columns.lowerBound).update(from: bias.data + columns.lowerBound,
                                                                    count: columns.count)
            }
        }
        BLAS.sgemm(transB: true, m: rows, n: columns.count, k: inFeatures, a: x, lda: inFeatures,
                   b: weight.data + columns.lowerBound * inFeatures, ldb: inFeatures, beta: bias == nil ? 0 : 1,
                   c: out + columns.lowerBound, ldc: outFeatures)
    }
}

/// A fixed split of a product's [rows × columns] output into blocks, chosen from the shape alone (so results do
/// not depend on the worker count). BLAS packs the whole left operand once per column block and the whole
/// weight once per row block; the split takes the fewest packed elements among the ways of making about
/// `Parallel.targetTasks` blocks, so many-row layers split rows and few-row, wide layers split columns.
public struct ProductPartition {
    public let rowBlock, columnBlock, rowBlocks, columnBlocks: Int
    let rows, columns: Int

    public init(rows: Int, columns: Int, minRows: Int = 32, minColumns: Int = 64) {
        self.rows = rows
        self.columns = columns
        var best = (cost: Int.max, rb: max(rows, 1), cb: max(columns, 1))
        let tasks = Parallel.targetTasks
        for rowSplits in 1...tasks {
            let columnSplits = (tasks + rowSplits - 1) / rowSplits
            let rb = max(minRows, (rows + rowSplits - 1) / rowSplits)
            let cb = max(minColumns, (columns + columnSplits - 1) / columnSplits + 15) / 16 * 16
            let cost = rows * ((columns + cb - 1) / cb) + columns * ((rows + rb - 1) / rb)
            if cost < best.cost { best = (cost, rb, cb) }
        }
        rowBlock = best.rb
        columnBlock = best.cb
        rowBlocks = max(1, (rows + rowBlock - 1) / rowBlock)
        columnBlocks = max(1, (columns + columnBlock - 1) / columnBlock)
    }

    public var tasks: Int { rowBlocks * columnBlocks }

    public func block(_ task: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let r = (task / columnBlocks) * rowBlock, c = (task % columnBlocks) * columnBlock
        return (r..<min(rows, r + rowBlock), c..<min(columns, c + columnBlock))
    }
}
