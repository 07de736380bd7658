import CVectorMath
import Foundation
import XCTest
@testable import SVDCore

/// The vectorised activations must agree bit for bit with their portable definition (so a clip renders the
/// same on machines with and without AVX2) and stay within a few ulp of libm.
final class VectorMathTests: XCTestCase {
    /// Inputs spanning the activations' working range, plus the edges.
    private let inputs: [Float] = {
        var values: [Float] = (0..<20_001).map { Float($0 - 10_000) / 500 }  // -20 … 20
        values += [0, -0.0, 1e-30, -1e-30, 80, -80, 88, -88, 100, -100, .infinity, -.infinity, .leastNormalMagnitude]
        return values
    }()

    func testVectorPathsMatchPortableDefinition() {
        let n = inputs.count
        var vector = [Float](repeating: 0, count: n), portable = vector
        svm_exp(inputs, &vector, n)
        svm_portable_exp(inputs, &portable, n)
        XCTAssertEqual(vector.map(\.bitPattern), portable.map(\.bitPattern), "exp paths differ")
        svm_gelu(inputs, &vector, n)
        svm_portable_gelu(inputs, &portable, n)
        XCTAssertEqual(vector.map(\.bitPattern), portable.map(\.bitPattern), "gelu paths differ")
    }

    func testAccuracyAgainstLibm() {
        let n = inputs.count
        var exps = [Float](repeating: 0, count: n), gelus = exps, silus = exps
        svm_exp(inputs, &exps, n)
        svm_gelu(inputs, &gelus, n)
        svm_silu(inputs, &silus, n)
        for (i, x) in inputs.enumerated() where x.isFinite && abs(x) <= 20 {
            let e = Double(x).exp
            XCTAssertLessThan(abs(Double(exps[i]) - e) / e, 4e-7, "exp(\(x))")
            let g = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            XCTAssertLessThan(abs(Double(gelus[i]) - g), 2e-6 * max(1, abs(g)), "gelu(\(x))")
            let s = Double(x) / (1 + (-Double(x)).exp)
            XCTAssertLessThan(abs(Double(silus[i]) - s), 1e-6 * max(1, abs(s)), "silu(\(x))")
        }
        // Saturation: no NaN or infinity from finite inputs.
        XCTAssertTrue(silus.enumerated().allSatisfy { !inputs[$0.offset].isFinite || $0.element.isFinite })
    }

    func testSoftmaxSumsToOneAndMatchesDefinition() {
        var row: [Float] = (0..<1003).map { sin(Float($0)) * 12 }
        let reference = row.map { Double($0) }
        let m = reference.max()!
        let total = reference.reduce(0) { $0 + ($1 - m).exp }
        var vector = row, portable = row
        svm_softmax(&row, row.count)
        for (i, x) in reference.enumerated() {
            XCTAssertEqual(Double(row[i]), (x - m).exp / total, accuracy: 1e-7)
        }
        // The numerators and their sum (attention divides its output rows by it) agree bit for bit across paths.
        let sum = svm_softmax_numerators(&vector, vector.count)
        XCTAssertEqual(sum.bitPattern, svm_portable_softmax_numerators(&portable, portable.count).bitPattern)
        XCTAssertEqual(vector.map(\.bitPattern), portable.map(\.bitPattern))
        XCTAssertEqual(Double(sum), total, accuracy: 1e-6 * total)
    }

    /// The unpacked product used for narrow layers: the AVX2 kernel (blocks of 4 rows × 24 columns, masked last
    /// columns) must give the portable fused-multiply-add chain's bits for every edge shape, write nothing past
    /// the last column, and be the product to within float rounding.
    func testSmallGemmMatchesPortableChainAndDoubleProduct() {
        for (m, n, k) in [(32, 56, 32), (4, 24, 16), (7, 1, 5), (1, 31, 64), (17, 49, 96), (64, 8, 384), (3, 25, 25)] {
            let lda = k + 3, ldb = n + 5, ldc = n + 2   // strides wider than the rows, as in the panels
            let a: [Float] = (0..<(m * lda)).map { sin(Float($0) * 0.71) }
            let b: [Float] = (0..<(k * ldb)).map { cos(Float($0) * 0.29) }
            let start: [Float] = (0..<(m * ldc)).map { Float($0 % 13) * 0.25 - 1 }
            var vector = start, portable = start
            svm_small_gemm(a, lda, b, ldb, &vector, ldc, m, n, k)
            svm_portable_small_gemm(a, lda, b, ldb, &portable, ldc, m, n, k)
            XCTAssertEqual(vector.map(\.bitPattern), portable.map(\.bitPattern), "\((m, n, k))")
            for i in 0..<m {
                for j in 0..<(n + 2) {
                    let index = i * ldc + j
                    guard j < n else {
                        XCTAssertEqual(vector[index], start[index], "wrote past column \(n)")
                        continue
                    }
                    var exact = 0.0
                    for p in 0..<k { exact += Double(a[i * lda + p]) * Double(b[p * ldb + j]) }
                    XCTAssertEqual(Double(vector[index]), exact, accuracy: 1e-5 * Double(k), "\((m, n, k)) [\(i), \(j)]")
                }
            }
        }
    }

    /// F(4×4) data transforms: the AVX2 transposes must give the portable per-lane loops' bits, for partial
    /// groups of tiles and clipped output blocks too, and leave everything outside their block untouched.
    func testWinogradF4TransformsMatchPortable() {
        let rowStride = 4 * 8 + 40
        let rows: [Float] = (0..<(6 * rowStride)).map { sin(Float($0) * 0.61) * 3 }
        let stride = 11
        for lanes: Int32 in [8, 5, 1] {
            var vector = [Float](repeating: -7, count: 36 * stride), portable = vector
            svm_winograd_f4_inputs8(rows, rowStride, lanes, &vector, stride)
            svm_portable_winograd_f4_inputs8(rows, rowStride, lanes, &portable, stride)
            XCTAssertEqual(vector.map(\.bitPattern), portable.map(\.bitPattern), "inputs, \(lanes) lanes")
            XCTAssertEqual(vector[Int(lanes)], lanes == 8 ? vector[8] : -7, "wrote past lane \(lanes)")
        }
        let m: [Float] = (0..<(36 * stride + 8)).map { cos(Float($0) * 0.37) * 5 }
        let width = 40
        for (valid, columns): (Int32, Int32) in [(4, 32), (3, 32), (4, 30), (1, 7)] {
            var vector = [Float](repeating: -9, count: 5 * width), portable = vector
            svm_winograd_f4_outputs8(m, stride, 0.25, valid, columns, &vector, width)
            svm_portable_winograd_f4_outputs8(m, stride, 0.25, valid, columns, &portable, width)
            XCTAssertEqual(vector.map(\.bitPattern), portable.map(\.bitPattern), "outputs \((valid, columns))")
            for i in 0..<5 { for x in 0..<width where i >= valid || x >= columns {
                XCTAssertEqual(vector[i * width + x], -9, "outputs \((valid, columns)) wrote [\(i), \(x)]")
            } }
        }
    }
}

private extension Double {
    var exp: Double { Foundation.exp(self) }
}
