#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PyTorch's CPU generator (`torch.Generator("cpu").manual_seed(s)`) and `torch.randn` on it, bit for bit as
/// torch 2.13–2.15 computes them on x86-64 Linux with AVX2: MT19937 as in
/// https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/core/MT19937RNGEngine.h, and `normal_fill` of
/// https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/cpu/DistributionTemplates.h (vectorised
/// Box-Muller over blocks of 16 for 16 or more elements, scalar otherwise). diffusers draws all SVD noise through
/// this, so the same seed gives the same video.
///
/// Not thread-safe: one generator per render, used serially (the pipeline draws twice).
public final class TorchGenerator {
    public let seed: Seed
    private var mt: MT19937
    /// The second value of the last scalar Box-Muller pair (torch's `normal_y`). Only calls with fewer than 16
    /// elements read or write it; it survives between calls.
    public private(set) var cachedNormal: Double?
    /// 32-bit words drawn since seeding (for checking the consumption rules).
    public var wordsConsumed: Int { mt.wordsConsumed }

    public init(seed: Seed) {
        self.seed = seed
        mt = MT19937(seed: seed.generatorSeed)
    }

    // MARK: Raw draws

    /// One tempered 32-bit word (torch's `random()`).
    public func random() -> UInt32 { mt.next() }

    /// Two words, the first in the high half (torch's `random64()`).
    public func random64() -> UInt64 { mt.next64() }

    /// A float uniform in [0, 1 − 2^-24]: the low 24 bits of one word.
    public func uniformFloat() -> Float { Self.floatUniform(mt.next()) }

    /// A double uniform in [0, 1): the low 53 bits of one `random64()`.
    public func uniformDouble() -> Double { Self.doubleUniform(mt.next64()) }

    @inline(__always) static func floatUniform(_ w: UInt32) -> Float { Float(w & 0x00FF_FFFF) * 0x1p-24 }
    @inline(__always) static func doubleUniform(_ w: UInt64) -> Double { Double(w & ((1 << 53) - 1)) * 0x1p-53 }

    // MARK: randn

    /// `torch.randn(count, generator: g)` in float32.
    public func randn(count: Int) -> [Float] {
        precondition(count >= 0, "negative count")
        guard count > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            fillNormal(buffer.baseAddress!, count: count)
            initialised = count
        }
    }

    /// `torch.randn(shape, generator: g)` in float32; same draws as `randn(count:)` of the element count.
    public func randn(shape: [Int]) -> Tensor {
        let out = Tensor(uninitialized: shape)
        fillNormal(out.data, count: out.count)
        return out
    }

    /// `torch.randn(count, generator: g, dtype: torch.float64)`.
    public func randnDouble(count: Int) -> [Double] {
        precondition(count >= 0, "negative count")
        guard count > 0 else { return [] }
        return [Double](unsafeUninitializedCapacity: count) { buffer, initialised in
            let out = buffer.baseAddress!
            initialised = count
            guard count >= 16 else {
                for i in 0..<count { out[i] = nextScalarNormal() }
                return
            }
            for i in 0..<count { out[i] = uniformDouble() }
            for b in 0..<count / 16 { TorchNormalKernel.doubleBlock(out + 16 * b) }
            if count % 16 != 0 {
                for i in count - 16..<count { out[i] = uniformDouble() }
                TorchNormalKernel.doubleBlock(out + (count - 16))
            }
        }
    }

    /// Below 16 elements torch produces each value with scalar double Box-Muller and keeps the pair's sine for
    /// the next value; at 16 and above it fills blocks of 16 from n uniforms drawn up front, and recomputes the
    /// last 16 outputs from 16 fresh uniforms when n is not a multiple of 16.
    private func fillNormal(_ out: UnsafeMutablePointer<Float>, count n: Int) {
        guard n >= 16 else {
            for i in 0..<n { out[i] = Float(nextScalarNormal()) }
            return
        }
        mt.fillFloatUniforms(out, count: n)
        // Serial: 1.8 M values take about 0.1 s; splitting the blocks over threads gained nothing measurable.
        for b in 0..<n / 16 { TorchNormalKernel.floatBlock(out + 16 * b) }
        if n % 16 != 0 {
            mt.fillFloatUniforms(out + (n - 16), count: 16)
            TorchNormalKernel.floatBlock(out + (n - 16))
        }
    }

    /// torch's `at::normal_distribution<double>` with mean 0, std 1: the first uniform is the angle, the second
    /// the radius; `+ 0` is the `·std + mean` that maps −0 to +0.
    private func nextScalarNormal() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached + 0
        }
        let angle = uniformDouble()
        let radiusUniform = uniformDouble()
        let r = (-2 * log1p(-radiusUniform)).squareRoot()
        let theta = 6.283185307179586 * angle
        cachedNormal = r * sin(theta)
        return r * cos(theta) + 0
    }
}

/// 32-bit MT19937 with torch's bookkeeping: seeding sets `left = 1`, so the first draw twists.
struct MT19937 {
    private static let n = 624
    private var state: [UInt32]
    private var left = 1
    private var index = 0
    private(set) var wordsConsumed = 0

    /// `init_genrand` on the low 32 bits of torch's seed.
    init(seed: UInt32) {
        var s = [UInt32](repeating: 0, count: Self.n)
        s[0] = seed
        for i in 1..<Self.n { s[i] = 1_812_433_253 &* (s[i - 1] ^ (s[i - 1] >> 30)) &+ UInt32(i) }
        state = s
    }

    @inline(__always) mutating func next() -> UInt32 {
        left -= 1
        if left == 0 { twist() }
        var y = state[index]
        index += 1
        wordsConsumed += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    @inline(__always) mutating func next64() -> UInt64 {
        let high = UInt64(next())
        return high << 32 | UInt64(next())
    }

    mutating func fillFloatUniforms(_ out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = TorchGenerator.floatUniform(next()) }
    }

    /// The standard twist, in place and in order, so words from 227 on see already-updated neighbours.
    private mutating func twist() {
        let n = Self.n
        state.withUnsafeMutableBufferPointer { s in
            for i in 0..<n {
                let following = s[(i + 1) % n]
                let y = ((s[i] & 0x8000_0000) | (following & 0x7FFF_FFFF)) >> 1
                s[i] = s[(i + 397) % n] ^ y ^ ((following & 1) != 0 ? 0x9908_B0DF : 0)
            }
        }
        left = n
        index = 0
    }
}

/// torch's Box-Muller block kernels: 16 uniforms in place → 16 normals. Lanes 0–7 give the radius and lanes
/// 8–15 the angle; outputs 0–7 are the cosines, 8–15 the sines.
enum TorchNormalKernel {
    /// Float(2π), rounded once.
    static let twoPi = Float(bitPattern: 0x40C9_0FDB)

    /// The AVX2 float32 kernel. The trailing `+ 0` is torch's `fma(out, std = 1, mean = 0)`: −0 → +0.
    @inline(__always) static func floatBlock(_ d: UnsafeMutablePointer<Float>) {
        for j in 0..<8 {
            let u1 = 1 - d[j]
            let u2 = d[j + 8]
            let radius = (-2 * AVXMathFun.log(u1)).squareRoot()
            let (s, c) = AVXMathFun.sincos(twoPi * u2)
            d[j] = radius * c + 0
            d[j + 8] = radius * s + 0
        }
    }

    /// The float64 kernel: plain C++ on doubles with glibc's log, sin and cos.
    static func doubleBlock(_ d: UnsafeMutablePointer<Double>) {
        for j in 0..<8 {
            let u1 = 1 - d[j]
            let u2 = d[j + 8]
            let radius = (-2 * log(u1)).squareRoot()
            let theta = 6.283185307179586 * u2
            d[j] = radius * cos(theta) + 0
            d[j + 8] = radius * sin(theta) + 0
        }
    }
}

/// `log256_ps` and `sincos256_ps` of avx_mathfun.h (Cephes logf/sinf/cosf) as GCC compiled them for torch:
/// float32 throughout, with `addingProduct` exactly where GCC contracted a multiply and an add into an FMA and
/// separately rounded operations everywhere else. Any other placement changes about 1 % of randn's values.
enum AVXMathFun {
    static let sqrtHF = Float(bitPattern: 0x3F35_04F3)
    static let logP0 = Float(bitPattern: 0x3D90_21BB)
    static let logP1 = Float(bitPattern: 0xBDEB_D1B8)
    static let logP2 = Float(bitPattern: 0x3DEF_251A)
    static let logP3 = Float(bitPattern: 0xBDFE_5D4F)
    static let logP4 = Float(bitPattern: 0x3E11_E9BF)
    static let logP5 = Float(bitPattern: 0xBE2A_AE50)
    static let logP6 = Float(bitPattern: 0x3E4C_CEAC)
    static let logP7 = Float(bitPattern: 0xBE7F_FFFC)
    static let logP8 = Float(bitPattern: 0x3EAA_AAAA)
    static let logQ1 = Float(bitPattern: 0xB95E_8083)
    static let logQ2 = Float(bitPattern: 0x3F31_8000)
    static let fourOverPi = Float(bitPattern: 0x3FA2_F983)
    static let dp1 = Float(bitPattern: 0xBF49_0000)
    static let dp2 = Float(bitPattern: 0xB97D_A000)
    static let dp3 = Float(bitPattern: 0xB322_2169)
    static let sinP0 = Float(bitPattern: 0xB94C_A1F9)
    static let sinP1 = Float(bitPattern: 0x3C08_839E)
    static let sinP2 = Float(bitPattern: 0xBE2A_AAA3)
    static let cosP0 = Float(bitPattern: 0x37CC_F5CE)
    static let cosP1 = Float(bitPattern: 0xBAB6_061A)
    static let cosP2 = Float(bitPattern: 0x3D2A_AAA5)

    /// Natural log for x in [2^-24, 1], the only inputs randn produces (no denormal or x ≤ 0 handling).
    @inline(__always) static func log(_ input: Float) -> Float {
        let bits = input.bitPattern
        var e = Float(Int32(bitPattern: bits >> 23) - 127) + 1
        let m = Float(bitPattern: (bits & 0x807F_FFFF) | 0x3F00_0000)   // mantissa in [0.5, 1)
        let x: Float
        if m < sqrtHF {
            e = e - 1
            x = (m - 1) + m
        } else {
            x = m - 1
        }
        let z = x * x
        var y = logP0                              // Horner, every step fused
        y = logP1.addingProduct(y, x)
        y = logP2.addingProduct(y, x)
        y = logP3.addingProduct(y, x)
        y = logP4.addingProduct(y, x)
        y = logP5.addingProduct(y, x)
        y = logP6.addingProduct(y, x)
        y = logP7.addingProduct(y, x)
        y = logP8.addingProduct(y, x)
        y = y * x
        y = (e * logQ1).addingProduct(y, z)
        y = y - z * 0.5
        return (x + y).addingProduct(e, logQ2)
    }

    /// (sin x, cos x) for x in [0, 2π), the only inputs randn produces (no sign handling for negative x).
    @inline(__always) static func sincos(_ input: Float) -> (sin: Float, cos: Float) {
        var j = Int32(input * fourOverPi)         // truncation toward zero
        j = (j + 1) & ~1                           // even octant: 0, 2, 4, 6 or 8
        let y = Float(j)
        var x = input.addingProduct(y, dp1)        // x − y·π/4 in three fused steps
        x = x.addingProduct(y, dp2)
        x = x.addingProduct(y, dp3)
        let z = x * x

        var c = cosP1.addingProduct(cosP0, z)
        c = cosP2.addingProduct(c, z)
        c = c * z
        c = (-(z * 0.5)).addingProduct(c, z)
        c = c + 1

        var s = sinP1.addingProduct(sinP0, z)
        s = sinP2.addingProduct(s, z)
        s = s * z
        s = x.addingProduct(s, x)

        // The vector code selects by adding masked values to a masked zero; the + 0 maps −0 to +0.
        let swap = (j & 2) != 0
        var sinValue = (swap ? c : s) + 0
        var cosValue = (swap ? s : c) + 0
        if (j & 4) != 0 { sinValue = -sinValue }
        if ((j &- 2) & 4) == 0 { cosValue = -cosValue }
        return (sinValue, cosValue)
    }
}
