import Foundation
import SVDCore

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/pipelines/stable_video_diffusion/pipeline_stable_video_diffusion.py (`_resize_with_antialiasing`)
//           https://github.com/python-pillow/Pillow/blob/main/src/libImaging/Resample.c (LANCZOS)

/// The two image inputs of the pipeline, computed from the decoded RGB image exactly as diffusers computes
/// them for a PIL input. Pure functions; results do not depend on the number of worker threads.
public enum ImagePreprocessing {
    /// CLIP's input size (both sides).
    public static let clipSize = 224

    // MARK: VAE path

    /// The VAE conditioning image [1, 3, H, W]: Pillow-Lanczos resize to width×height (a copy when the
    /// size already matches), then x/255 and 2x−1 in float32, as `VideoProcessor.preprocess` does.
    public static func vaeInput(_ image: RGBImage, width: Int, height: Int) -> Tensor {
        let resized = lanczosResize(image, width: width, height: height)
        let plane = width * height
        let out = Tensor(uninitialized: [1, 3, height, width])
        let dst = out.data
        resized.pixels.withUnsafeBufferPointer { src in
            for i in 0..<plane {
                for c in 0..<3 {
                    let x = Float(src[3 * i + c]) / 255    // torch: uint8 → float32 / 255, then 2x − 1
                    dst[c * plane + i] = 2 * x - 1
                }
            }
        }
        return out
    }

    /// `PIL.Image.resize((width, height), Image.LANCZOS)` on an RGB image, bit-exact with Pillow 13:
    /// separable 22-bit fixed-point passes with an 8-bit intermediate; the vertical pass comes
    /// first when the height shrinks by more than twice as many pixels as the width.
    public static func lanczosResize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && height > 0, "resize target \(width)×\(height)")
        let (w0, h0) = (image.width, image.height)
        let horizontal = width != w0, vertical = height != h0
        guard horizontal || vertical else { return image }
        let xs = FixedPointCoefficients(lanczosFrom: w0, to: width)
        let ys = FixedPointCoefficients(lanczosFrom: h0, to: height)

        if vertical && height < h0 && h0 - height > 2 * (w0 - width) {
            // Pillow 13 order: vertical first, then horizontal on the 8-bit vertical result.
            let v = verticalPass(image.pixels, width: w0, coefficients: ys, rowOffset: 0)
            guard horizontal else { return RGBImage(width: w0, height: height, pixels: v) }
            let h = horizontalPass(v, inWidth: w0, rows: 0..<height, coefficients: xs)
            return RGBImage(width: width, height: height, pixels: h)
        }
        guard horizontal else {
            return RGBImage(width: w0, height: height, pixels: verticalPass(image.pixels, width: w0, coefficients: ys,
                                                                            rowOffset: 0))
        }
        // Horizontal first; like Pillow, only the rows the vertical pass reads are produced.
        let rows = vertical ? ys.inputRange : 0..<h0
        let h = horizontalPass(image.pixels, inWidth: w0, rows: rows, coefficients: xs)
        guard vertical else { return RGBImage(width: width, height: h0, pixels: h) }
        let v = verticalPass(h, width: width, coefficients: ys, rowOffset: rows.lowerBound)
        return RGBImage(width: width, height: height, pixels: v)
    }

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the Lanczos-3 filter along one axis.
    struct FixedPointCoefficients {
        static let precisionBits = 22
        /// First input index and tap count of each output index.
        let first: [Int]
        let count: [Int]
        /// `stride` fixed-point weights per output index (unused taps are 0).
        let weights: [Int32]
        let stride: Int

        init(lanczosFrom inSize: Int, to outSize: Int) {
            let scale = Double(inSize) / Double(outSize)
            let filterScale = max(scale, 1)
            let support = 3.0 * filterScale
            let ksize = Int(support.rounded(.up)) * 2 + 1
            let ss = 1.0 / filterScale      // Pillow multiplies by the reciprocal; dividing can differ by an ulp
            var first = [Int](repeating: 0, count: outSize), count = first
            var weights = [Int32](repeating: 0, count: outSize * ksize)
            var raw = [Double](repeating: 0, count: ksize)
            for o in 0..<outSize {
                let center = (Double(o) + 0.5) * scale
                let lo = max(Int(center - support + 0.5), 0)
                let hi = min(Int(center + support + 0.5), inSize)
                let n = hi - lo
                var sum = 0.0
                for k in 0..<n {
                    let w = Self.lanczos3((Double(k + lo) - center + 0.5) * ss)
                    raw[k] = w
                    sum += w
                }
                for k in 0..<n {
                    let w = sum != 0 ? raw[k] / sum : raw[k]
                    let scaled = w * Double(1 << Self.precisionBits)
                    weights[o * ksize + k] = Int32(w < 0 ? scaled - 0.5 : scaled + 0.5)   // Int32() truncates, as C
                }
                first[o] = lo
                count[o] = n
            }
            self.first = first
            self.count = count
            self.weights = weights
            stride = ksize
        }

        /// Input indices read by any output index.
        var inputRange: Range<Int> { first[0]..<(first[first.count - 1] + count[count.count - 1]) }

        static func lanczos3(_ x: Double) -> Double {
            guard -3.0 <= x && x < 3.0 else { return 0 }
            return sinc(x) * sinc(x / 3)
        }

        static func sinc(_ x: Double) -> Double {
            if x == 0 { return 1 }
            let px = x * Double.pi
            return sin(px) / px
        }

        /// acc = 2²¹ + Σ pixel·weight, then an arithmetic shift and a clamp to 0…255 (Pillow's clip8).
        @inline(__always)
        static func clip8(_ acc: Int32) -> UInt8 {
            UInt8(clamping: acc >> Int32(precisionBits))
        }
    }

    /// Resamples each of `rows` along x; output row r − rows.lowerBound holds input row r.
    private static func horizontalPass(_ src: [UInt8], inWidth: Int, rows: Range<Int>,
                                       coefficients k: FixedPointCoefficients) -> [UInt8] {
        let outWidth = k.first.count
        var out = [UInt8](repeating: 0, count: rows.count * outWidth * 3)
        src.withUnsafeBufferPointer { s in
            k.weights.withUnsafeBufferPointer { wts in
                out.withUnsafeMutableBufferPointer { o in
                    let (s, wts, o) = (s.baseAddress!, wts.baseAddress!, o.baseAddress!)
                    Parallel.forChunks(rows.count, chunk: 16) { chunk in
                        for r in chunk {
                            let inRow = s + (rows.lowerBound + r) * inWidth * 3
                            let outRow = o + r * outWidth * 3
                            for x in 0..<outWidth {
                                let w = wts + x * k.stride
                                let p = inRow + k.first[x] * 3
                                var a0: Int32 = 1 << 21, a1: Int32 = 1 << 21, a2: Int32 = 1 << 21
                                for t in 0..<k.count[x] {
                                    a0 &+= Int32(p[3 * t]) &* w[t]
                                    a1 &+= Int32(p[3 * t + 1]) &* w[t]
                                    a2 &+= Int32(p[3 * t + 2]) &* w[t]
                                }
                                outRow[3 * x] = FixedPointCoefficients.clip8(a0)
                                outRow[3 * x + 1] = FixedPointCoefficients.clip8(a1)
                                outRow[3 * x + 2] = FixedPointCoefficients.clip8(a2)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Resamples along y; `src` row i holds input row i + rowOffset.
    private static func verticalPass(_ src: [UInt8], width: Int, coefficients k: FixedPointCoefficients,
                                     rowOffset: Int) -> [UInt8] {
        let outHeight = k.first.count
        let rowBytes = width * 3
        var out = [UInt8](repeating: 0, count: outHeight * rowBytes)
        src.withUnsafeBufferPointer { s in
            k.weights.withUnsafeBufferPointer { wts in
                out.withUnsafeMutableBufferPointer { o in
                    let (s, wts, o) = (s.baseAddress!, wts.baseAddress!, o.baseAddress!)
                    Parallel.forChunks(outHeight, chunk: 8) { chunk in
                        var acc = [Int32](repeating: 0, count: rowBytes)
                        for y in chunk {
                            let w = wts + y * k.stride
                            let top = s + (k.first[y] - rowOffset) * rowBytes
                            for i in 0..<rowBytes { acc[i] = 1 << 21 }
                            for t in 0..<k.count[y] {
                                let row = top + t * rowBytes
                                let wt = w[t]
                                for i in 0..<rowBytes { acc[i] &+= Int32(row[i]) &* wt }
                            }
                            let outRow = o + y * rowBytes
                            for i in 0..<rowBytes { outRow[i] = FixedPointCoefficients.clip8(acc[i]) }
                        }
                    }
                }
            }
        }
        return out
    }

    // MARK: CLIP path

    /// The CLIP encoder input [1, 3, 224, 224] from the ORIGINAL image: u = 2·x/255 − 1,
    /// diffusers' `_resize_with_antialiasing` to 224×224 (Gaussian blur x then y with reflect padding,
    /// bicubic A = −0.75 with align_corners), back to [0, 1], then (x − mean)/std per channel. float32
    /// throughout, with torch's operation order where it is known.
    public static func clipInput(_ image: RGBImage, mean: [Float], std: [Float]) -> Tensor {
        precondition(mean.count == 3 && std.count == 3, "CLIP mean/std need 3 channels")
        let (w, h) = (image.width, image.height)
        let plane = w * h
        var u = [Float](repeating: 0, count: 3 * plane)
        image.pixels.withUnsafeBufferPointer { src in
            u.withUnsafeMutableBufferPointer { u in
                let (src, u) = (src.baseAddress!, u.baseAddress!)
                Parallel.forChunks(h, chunk: 64) { rows in
                    for i in rows.lowerBound * w..<rows.upperBound * w {
                        for c in 0..<3 { u[c * plane + i] = Float(src[3 * i + c]) / 255 * 2 - 1 }
                    }
                }
            }
        }
        let ky = GaussianKernel(inputSize: h, outputSize: clipSize)
        let kx = GaussianKernel(inputSize: w, outputSize: clipSize)
        precondition(kx.radius < w && ky.radius < h, "reflect padding needs an image larger than \(kx.radius)×\(ky.radius)")
        let blurredX = blurRows(u, width: w, rows: 3 * h, kernel: kx.taps)
        let blurred = blurColumns(blurredX, width: w, height: h, kernel: ky.taps)

        let bx = BicubicAxis(inputSize: w, outputSize: clipSize)
        let by = BicubicAxis(inputSize: h, outputSize: clipSize)
        let out = Tensor(uninitialized: [1, 3, clipSize, clipSize])
        let dst = out.data
        let mean = mean, std = std
        blurred.withUnsafeBufferPointer { b in
            let b = b.baseAddress!
            Parallel.forEach(3 * clipSize) { row in
                let c = row / clipSize, oy = row % clipSize
                let channel = b + c * plane
                let outRow = dst + row * clipSize
                for ox in 0..<clipSize {
                    // torch's generic N-d interpolation: interpolate along x for each of the 4 rows, then
                    // combine the rows; each sum starts from its first product.
                    var value: Float = 0
                    for a in 0..<4 {
                        let src = channel + by.index[oy * 4 + a] * w
                        var t = src[bx.index[ox * 4]] * bx.weight[ox * 4]
                        for j in 1..<4 { t += src[bx.index[ox * 4 + j]] * bx.weight[ox * 4 + j] }
                        if a == 0 { value = t * by.weight[oy * 4] } else { value += t * by.weight[oy * 4 + a] }
                    }
                    let x = (value + 1) / 2
                    outRow[ox] = (x - mean[c]) / std[c]
                }
            }
        }
        return out
    }

    /// diffusers `_gaussian` for one axis of `_resize_with_antialiasing`: σ and the size in double, taps in
    /// float32.
    struct GaussianKernel {
        let sigma: Double
        let taps: [Float]
        var radius: Int { taps.count / 2 }

        init(inputSize: Int, outputSize: Int) {
            let factor = Double(inputSize) / Double(outputSize)
            sigma = max((factor - 1) / 2, 0.001)
            var size = Int(max(2.0 * 2 * sigma, 3))
            if size % 2 == 0 { size += 1 }
            let s = Float(sigma)
            let twoSigmaSquared = 2 * (s * s)
            var g = (0..<size).map { i -> Float in
                let x = Float(i - size / 2)
                return exp(-(x * x) / twoSigmaSquared)
            }
            var sum: Float = 0
            for v in g { sum += v }
            for i in g.indices { g[i] /= sum }
            taps = g
        }
    }

    /// Correlates every row with `kernel`, reflect-padded (mirror without repeating the edge).
    private static func blurRows(_ src: [Float], width: Int, rows: Int, kernel: [Float]) -> [Float] {
        let r = kernel.count / 2
        var out = [Float](repeating: 0, count: src.count)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                let (s, o) = (s.baseAddress!, o.baseAddress!)
                Parallel.forChunks(rows, chunk: 32) { chunk in
                    var padded = [Float](repeating: 0, count: width + 2 * r)
                    for y in chunk {
                        let row = s + y * width
                        for j in 0..<(width + 2 * r) { padded[j] = row[reflect(j - r, width)] }
                        let outRow = o + y * width
                        // Tap-outer loops vectorise over x; each output still sums k0·p0 + k1·p1 + … in order.
                        padded.withUnsafeBufferPointer { p in
                            let p = p.baseAddress!
                            let k0 = kernel[0]
                            for x in 0..<width { outRow[x] = k0 * p[x] }
                            for i in 1..<kernel.count {
                                let k = kernel[i], q = p + i
                                for x in 0..<width { outRow[x] += k * q[x] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Correlates every column of each of the three planes with `kernel`, reflect-padded.
    private static func blurColumns(_ src: [Float], width: Int, height: Int, kernel: [Float]) -> [Float] {
        let r = kernel.count / 2
        var out = [Float](repeating: 0, count: src.count)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                let (s, o) = (s.baseAddress!, o.baseAddress!)
                Parallel.forChunks(3 * height, chunk: 16) { chunk in
                    for row in chunk {
                        let c = row / height, y = row % height
                        let plane = s + c * width * height
                        let outRow = o + row * width
                        let first = plane + reflect(y - r, height) * width
                        for x in 0..<width { outRow[x] = kernel[0] * first[x] }
                        for i in 1..<kernel.count {
                            let input = plane + reflect(y + i - r, height) * width
                            let k = kernel[i]
                            for x in 0..<width { outRow[x] += k * input[x] }
                        }
                    }
                }
            }
        }
        return out
    }

    @inline(__always)
    private static func reflect(_ i: Int, _ n: Int) -> Int {
        i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i)
    }

    /// torch `upsample_bicubic2d` (align_corners=True, A = −0.75) weights for one axis: four clamped input
    /// indices and float32 weights per output index.
    struct BicubicAxis {
        let index: [Int]
        let weight: [Float]

        init(inputSize: Int, outputSize: Int) {
            let a: Float = -0.75
            func c1(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
            func c2(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            let scale: Float = outputSize > 1 ? Float(inputSize - 1) / Float(outputSize - 1) : 0
            var index = [Int](), weight = [Float]()
            index.reserveCapacity(4 * outputSize)
            weight.reserveCapacity(4 * outputSize)
            for o in 0..<outputSize {
                let s = scale * Float(o)
                let i0 = min(Int(s.rounded(.down)), inputSize - 1)
                let t = min(max(s - Float(i0), 0), 1)
                let u = 1 - t
                weight += [c2(t + 1), c1(t), c1(u), c2(u + 1)]
                for j in 0..<4 { index.append(min(max(i0 - 1 + j, 0), inputSize - 1)) }
            }
            self.index = index
            self.weight = weight
        }
    }
}
