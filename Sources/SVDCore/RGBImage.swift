/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B (Pillow's "RGB" mode).
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGB buffer of \(pixels.count) bytes for \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

extension RGBImage {
    /// A synthetic test picture (red across, green down, a diagonal blue ramp): input for benchmarks and speed
    /// probes when no image is given.
    public static func gradient(width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(255 * x / max(width - 1, 1))
                pixels[i + 1] = UInt8(255 * y / max(height - 1, 1))
                pixels[i + 2] = UInt8((x + y) % 256)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
