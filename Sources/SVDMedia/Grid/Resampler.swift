import SVDCore

/// Resizing for `--fit` and contact-sheet thumbnails: area averaging when shrinking (every source pixel
/// counts by the area it covers, so no aliasing), bilinear when enlarging. Separable, in Double with
/// fixed evaluation order, so the result is the same on every machine.
public enum Resampler {
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && height > 0, "resize to \(width)×\(height)")
        if width == image.width && height == image.height { return image }
        let xTaps = taps(from: image.width, to: width)
        let yTaps = taps(from: image.height, to: height)

        // Horizontal pass into a Double buffer (height × width × 3), then vertical into bytes.
        var horizontal = [Double](repeating: 0, count: image.height * width * 3)
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<image.height {
                let srcRow = y * image.width * 3, dstRow = y * width * 3
                for x in 0..<width {
                    var r = 0.0, g = 0.0, b = 0.0
                    for tap in xTaps[x] {
                        let i = srcRow + tap.index * 3
                        r += tap.weight * Double(src[i])
                        g += tap.weight * Double(src[i + 1])
                        b += tap.weight * Double(src[i + 2])
                    }
                    horizontal[dstRow + x * 3] = r
                    horizontal[dstRow + x * 3 + 1] = g
                    horizontal[dstRow + x * 3 + 2] = b
                }
            }
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let rowLength = width * 3
        for y in 0..<height {
            for i in 0..<rowLength {
                var v = 0.0
                for tap in yTaps[y] { v += tap.weight * horizontal[tap.index * rowLength + i] }
                out[y * rowLength + i] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// `image` scaled to fit inside width × height with its aspect ratio kept, centred on `fill`.
    public static func letterbox(_ image: RGBImage, width: Int, height: Int, fill: RGBColor) -> RGBImage {
        if image.width == width && image.height == height { return image }
        let content = fittedSize(width: image.width, height: image.height, intoWidth: width, height: height)
        var canvas = RGBImage.filled(width: width, height: height, color: fill)
        canvas.blit(resize(image, width: content.width, height: content.height),
                    x: (width - content.width) / 2, y: (height - content.height) / 2)
        return canvas
    }

    /// The largest size with `width`:`height`'s aspect ratio that fits the box (at least 1 × 1).
    public static func fittedSize(width: Int, height: Int, intoWidth boxWidth: Int, height boxHeight: Int)
        -> (width: Int, height: Int) {
        // Compare w·H with h·W in integers to pick the limiting side exactly.
        if width * boxHeight >= height * boxWidth {
            return (boxWidth, max(1, min(boxHeight, (height * boxWidth * 2 + width) / (width * 2))))
        }
        return (max(1, min(boxWidth, (width * boxHeight * 2 + height) / (height * 2))), boxHeight)
    }

    struct Tap {
        let index: Int
        let weight: Double
    }

    /// For each output position, the source pixels that contribute and their weights (summing to 1).
    static func taps(from source: Int, to target: Int) -> [[Tap]] {
        let scale = Double(target) / Double(source)
        return (0..<target).map { i in
            if target < source {
                // Area: output pixel i covers source interval [i/scale, (i+1)/scale).
                let start = Double(i) / scale, end = Double(i + 1) / scale
                var taps: [Tap] = []
                for j in Int(start.rounded(.down))..<min(source, Int(end.rounded(.up))) {
                    let overlap = min(end, Double(j + 1)) - max(start, Double(j))
                    if overlap > 0 { taps.append(Tap(index: j, weight: overlap * scale)) }
                }
                return taps
            }
            // Bilinear between the two nearest source centres, edges clamped.
            let centre = (Double(i) + 0.5) / scale - 0.5
            let left = Int(centre.rounded(.down))
            let f = centre - Double(left)
            let a = min(max(left, 0), source - 1), b = min(max(left + 1, 0), source - 1)
            return a == b || f == 0 ? [Tap(index: a, weight: 1)] : [Tap(index: a, weight: 1 - f), Tap(index: b, weight: f)]
        }
    }
}
