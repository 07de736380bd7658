import XCTest
@testable import SVDCore

/// Every parallel operation must give the same bits whatever the worker count (reproducibility across machines
/// and `--threads` settings rests on it).
final class DeterminismTests: XCTestCase {
    /// A reproducible pseudo-random tensor (values in [-1, 1)).
    func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            t[flat: i] = Float(Int64(bitPattern: state >> 11) % 1_000_000) / 1_000_000
        }
        return t
    }

    func results(workers: Int) -> [[Float]] {
        let saved = Parallel.workerCount
        Parallel.workerCount = workers
        defer { Parallel.workerCount = saved }
        let x = random([6, 64, 40, 56], seed: 1)           // 2240 positions: two column chunks per image
        let w = random([32, 64, 3, 3], seed: 2), b = random([32], seed: 3)
        let conv = Convolution.conv2d(x, weight: w, bias: b, padding: .same(1))
        let temporal = Convolution.temporalConv3(conv, weight: random([32, 32, 3, 1, 1], seed: 4), bias: b, frames: 3)
        let gamma = random([32], seed: 5), beta = random([32], seed: 6)
        let norm = Normalization.groupNorm(temporal, groups: 8, weight: gamma, bias: beta, eps: 1e-6, framesPerSample: 3, silu: true)
        let tokens = random([2, 700, 64], seed: 7)         // 700 rows: three row chunks, three query blocks
        let lin = Linear.apply(tokens, weight: random([96, 64], seed: 8), bias: random([96], seed: 9))
        let q = random([2, 700, 64], seed: 10), k = random([2, 300, 64], seed: 11), v = random([2, 300, 64], seed: 12)
        let attention = Attention.scaledDotProduct(q: q, k: k, v: v, heads: 4)
        let ln = Normalization.layerNorm(tokens, weight: random([64], seed: 13), bias: random([64], seed: 14), eps: 1e-5)
        return [conv.array, temporal.array, norm.array, lin.array, attention.array, ln.array]
    }

    func testBitIdenticalAcrossWorkerCounts() {
        let one = results(workers: 1)
        for workers in [2, 8] {
            let other = results(workers: workers)
            for (i, (a, b)) in zip(one, other).enumerated() {
                XCTAssertTrue(a.map(\.bitPattern) == b.map(\.bitPattern), "operation \(i) differs with \(workers) workers")
            }
        }
    }

    /// The convolution is a cross-correlation with zero padding: check one output against a direct sum.
    func testConvolutionMatchesDirectSum() {
        let x = random([1, 3, 5, 7], seed: 21), w = random([2, 3, 3, 3], seed: 22), b = random([2], seed: 23)
        let y = Convolution.conv2d(x, weight: w, bias: b, stride: 2, padding: Padding2D(top: 0, left: 0, bottom: 1, right: 1))
        XCTAssertEqual(y.shape, [1, 2, 2, 3])  // (5+1−3)/2+1 × (7+1−3)/2+1
        for o in 0..<2 { for oy in 0..<2 { for ox in 0..<3 {
            var s = Double(b[flat: o])
            for c in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy * 2 + ky, ix = ox * 2 + kx
                guard iy < 5, ix < 7 else { continue }
                s += Double(w[flat: ((o * 3 + c) * 3 + ky) * 3 + kx]) * Double(x[flat: (c * 5 + iy) * 7 + ix])
            } } }
            XCTAssertEqual(Double(y[flat: (o * 2 + oy) * 3 + ox]), s, accuracy: 1e-5)
        } } }
    }
}

/// Both Winograd tilings must compute the same convolution as plain loops, whatever the worker count.
final class WinogradTests: XCTestCase {
    func testMatchesDirectConvolutionAndIsThreadIndependent() {
        // Depth ≥ 128 multiplies through BLAS; the narrow shapes (the demo model's 32–64 channels, a 96-channel
        // skip concatenation, several panels at 25×16×24) through NarrowProduct.
        for (n, c, o, h, w) in [(3, 128, 40, 7, 10), (2, 136, 128, 16, 9), (1, 128, 16, 1, 1), (5, 128, 64, 2, 3),
                                (2, 128, 24, 6, 40), (25, 32, 32, 16, 24), (3, 16, 48, 7, 10), (2, 96, 64, 9, 13),
                                (5, 64, 17, 2, 3)] {
            let x = Tensor(shape: [n, c, h, w], values: (0..<(n * c * h * w)).map { sin(Float($0) * 0.37) })
            let weight = Tensor(shape: [o, c, 3, 3], values: (0..<(o * c * 9)).map { cos(Float($0) * 0.11) * 0.05 })
            let bias = Tensor(shape: [o], values: (0..<o).map { Float($0) * 0.01 - 0.2 })
            XCTAssertTrue(Winograd.applies(channels: c, outChannels: o, kh: 3, kw: 3, stride: 1, padding: .same(1)))
            // Reference: plain loops in Double.
            var reference = [Double](repeating: 0, count: n * o * h * w)
            for b in 0..<n { for oc in 0..<o { for y in 0..<h { for xx in 0..<w {
                var acc = Double(bias.data[oc])
                for ic in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                    let iy = y + ky - 1, ix = xx + kx - 1
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    acc += Double(x.data[((b * c + ic) * h + iy) * w + ix]) * Double(weight.data[((oc * c + ic) * 3 + ky) * 3 + kx])
                } } }
                reference[((b * o + oc) * h + y) * w + xx] = acc
            } } } }
            let scale = reference.map(abs).max()!
            // F(2×2) rounds like the direct product; F(4×4)'s transforms (up to ×8 and 1/24) lose about 3 more bits.
            let tilings: [(WinogradTiling.Type, Double)] = [(Winograd.F2.self, 2e-6), (Winograd.F4.self, 5e-5)]
            for (tiling, bound) in tilings {
                func run(workers: Int) -> Tensor {
                    let saved = Parallel.workerCount
                    defer { Parallel.workerCount = saved }
                    Parallel.workerCount = workers
                    return Winograd.conv3x3(x, weight: weight, bias: bias, tiling: tiling)
                }
                let fast = run(workers: 2)
                let worst = zip(reference, fast.array).map { abs($0 - Double($1)) }.max()!
                XCTAssertLessThan(worst / scale, bound, "\(tiling) shape \((n, c, o, h, w))")
                XCTAssertEqual(run(workers: 1).array, fast.array, "\(tiling)")
                XCTAssertEqual(run(workers: 7).array, fast.array, "\(tiling)")
            }
            let expected: WinogradTiling.Type = Winograd.usesLargeTiles(height: h, width: w) ? Winograd.F4.self : Winograd.F2.self
            XCTAssertEqual(Convolution.conv2d(x, weight: weight, bias: bias, padding: .same(1)).array,
                           Winograd.conv3x3(x, weight: weight, bias: bias, tiling: expected).array)
        }
    }

    /// Two panels, each split into two output blocks that share the panel's transformed inputs.
    func testSharedPanelsMatchSampledSums() {
        let (n, c, o, h, w) = (4, 128, 128, 64, 64)
        let x = Tensor(shape: [n, c, h, w], values: (0..<(n * c * h * w)).map { sin(Float($0) * 0.37) })
        let weight = Tensor(shape: [o, c, 3, 3], values: (0..<(o * c * 9)).map { cos(Float($0) * 0.11) * 0.05 })
        let y = Convolution.conv2d(x, weight: weight, bias: nil, padding: .same(1))
        var worst = 0.0, scale = 0.0
        for b in 0..<n { for oc in stride(from: 0, to: o, by: 9) { for yy in stride(from: 0, to: h, by: 5) {
            for xx in stride(from: 0, to: w, by: 3) {
                var acc = 0.0
                for ic in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                    let iy = yy + ky - 1, ix = xx + kx - 1
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    acc += Double(x.data[((b * c + ic) * h + iy) * w + ix]) * Double(weight.data[((oc * c + ic) * 3 + ky) * 3 + kx])
                } } }
                worst = max(worst, abs(acc - Double(y.data[((b * o + oc) * h + yy) * w + xx])))
                scale = max(scale, abs(acc))
            }
        } } }
        XCTAssertLessThan(worst / scale, 5e-5)   // F(4×4) tiles; the error grows slowly with the depth C
    }

    /// A GroupNorm applied as the convolution gathers its tiles gives the bits of convolving the normalised
    /// tensor, on both tilings, narrow and wide layers and the non-Winograd fallback.
    func testNormalisingWhileGatheringMatchesNormalisedCopy() {
        for (n, c, o, h, w, kernel) in [(3, 32, 32, 16, 24, 3), (2, 128, 64, 2, 3, 3), (2, 64, 16, 9, 13, 3), (2, 32, 8, 7, 5, 3),
                                        (1, 32, 32, 6, 6, 1)] {
            let x = Tensor(shape: [n, c, h, w], values: (0..<(n * c * h * w)).map { sin(Float($0) * 0.37) * 2 + 0.5 })
            let weight = Tensor(shape: [o, c, kernel, kernel], values: (0..<(o * c * kernel * kernel)).map { cos(Float($0) * 0.11) * 0.05 })
            let bias = Tensor(shape: [o], values: (0..<o).map { Float($0) * 0.01 - 0.2 })
            let gamma = Tensor(shape: [c], values: (0..<c).map { 1 + Float($0) * 0.01 })
            let beta = Tensor(shape: [c], values: (0..<c).map { Float($0) * -0.02 })
            let affine = Normalization.groupNormAffine(x, groups: 8, weight: gamma, bias: beta, eps: 1e-6, silu: true)
            let normalised = Normalization.groupNorm(x, groups: 8, weight: gamma, bias: beta, eps: 1e-6, silu: true)
            XCTAssertEqual(affine.apply(x).array.map(\.bitPattern), normalised.array.map(\.bitPattern))
            let padding: Padding2D = .same(kernel / 2)
            let fused = Convolution.conv2d(x, weight: weight, bias: bias, padding: padding, input: affine)
            let reference = Convolution.conv2d(normalised, weight: weight, bias: bias, padding: padding)
            XCTAssertEqual(fused.array.map(\.bitPattern), reference.array.map(\.bitPattern), "\((n, c, o, h, w, kernel))")
        }
    }

    func testLargeTilesWhereTheyNeedFewerProducts() {
        XCTAssertTrue(Winograd.usesLargeTiles(height: 16, width: 32))   // UNet level 0 at 128×256
        XCTAssertTrue(Winograd.usesLargeTiles(height: 4, width: 8))
        XCTAssertTrue(Winograd.usesLargeTiles(height: 9, width: 16))
        XCTAssertFalse(Winograd.usesLargeTiles(height: 2, width: 4))   // a 4×4 tile would be half padding
        XCTAssertFalse(Winograd.usesLargeTiles(height: 1, width: 1))
    }
}

/// Linear layers split their output by rows or by columns depending on the shape; either way the product must
/// be right and the same for every worker count.
final class LinearPartitionTests: XCTestCase {
    func testRowAndColumnSplitsMatchPlainSums() {
        XCTAssertEqual(ProductPartition(rows: 14336, columns: 2560).columnBlocks, 1)   // many rows: row blocks
        XCTAssertEqual(ProductPartition(rows: 224, columns: 10240).rowBlocks, 1)       // few rows: column blocks
        // Depths under 128 multiply unpacked, the last two through BLAS.
        for (rows, k, o) in [(5, 33, 700), (3000, 17, 40), (224, 64, 1024), (300, 160, 96), (224, 128, 1100)] {
            let x = Tensor(shape: [rows, k], values: (0..<(rows * k)).map { sin(Float($0) * 0.29) })
            let weight = Tensor(shape: [o, k], values: (0..<(o * k)).map { cos(Float($0) * 0.13) })
            let bias = Tensor(shape: [o], values: (0..<o).map { Float($0) * 0.001 })
            func run(workers: Int) -> [Float] {
                let saved = Parallel.workerCount
                defer { Parallel.workerCount = saved }
                Parallel.workerCount = workers
                return Linear.apply(x, weight: weight, bias: bias).array
            }
            let y = run(workers: 2)
            for r in stride(from: 0, to: rows, by: 7) { for j in stride(from: 0, to: o, by: 5) {
                var s = Double(bias.data[j])
                for i in 0..<k { s += Double(x.data[r * k + i]) * Double(weight.data[j * k + i]) }
                XCTAssertEqual(Double(y[r * o + j]), s, accuracy: 1e-4, "\((rows, k, o)) at \((r, j))")
            } }
            XCTAssertEqual(run(workers: 1), y)
            XCTAssertEqual(run(workers: 7), y)
        }
    }
}

/// The temporal convolution (by F(2, 3) along the frames for wide layers, by one gathered product of depth 3·C
/// for narrow ones) must match plain sums (odd frame counts included) and be the same for every worker count.
final class TemporalConvolutionTests: XCTestCase {
    func testMatchesPlainSumsAndIsThreadIndependent() {
        // The fourth case has two panels, each split into two output blocks sharing its transformed inputs; the
        // narrow ones cover the UNet's and the decoder's frame sizes, a partial column block and short videos.
        for (videos, frames, c, o, spatial) in [(2, 5, 128, 40, 6), (1, 14, 136, 24, 33), (3, 4, 128, 130, 2),
                                                (2, 8, 128, 128, 1100), (2, 5, 32, 32, 384), (1, 3, 64, 17, 1100),
                                                (3, 2, 16, 24, 7)] {
            XCTAssertEqual(TemporalWinograd.applies(channels: c, frames: frames), c >= 128)
            let rows = videos * frames
            let x = Tensor(shape: [rows, c, spatial], values: (0..<(rows * c * spatial)).map { sin(Float($0) * 0.23) })
            let weight = Tensor(shape: [o, c, 3, 1, 1], values: (0..<(o * c * 3)).map { cos(Float($0) * 0.07) * 0.05 })
            let bias = Tensor(shape: [o], values: (0..<o).map { Float($0) * 0.01 - 0.3 })
            func run(workers: Int) -> [Float] {
                let saved = Parallel.workerCount
                defer { Parallel.workerCount = saved }
                Parallel.workerCount = workers
                return Convolution.temporalConv3(x, weight: weight, bias: bias, frames: frames).array
            }
            let y = run(workers: 2)
            var worst = 0.0, scale = 0.0
            for row in 0..<rows { for oc in 0..<o { for p in stride(from: 0, to: spatial, by: spatial > 100 ? 13 : 1) {
                let f = row % frames
                var acc = Double(bias.data[oc])
                for t in 0..<3 where f + t - 1 >= 0 && f + t - 1 < frames {
                    for ic in 0..<c {
                        acc += Double(weight.data[(oc * c + ic) * 3 + t]) * Double(x.data[((row + t - 1) * c + ic) * spatial + p])
                    }
                }
                worst = max(worst, abs(acc - Double(y[(row * o + oc) * spatial + p])))
                scale = max(scale, abs(acc))
            } } }
            XCTAssertLessThan(worst / scale, 2e-6, "\((videos, frames, c, o, spatial))")
            XCTAssertEqual(run(workers: 1), y)
            XCTAssertEqual(run(workers: 7), y)
        }
    }
}
