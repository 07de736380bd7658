import Foundation
import SVDCore

/// An 8-bit RGB colour.
public struct RGBColor: Hashable, Sendable, Codable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }
    public var description: String { "(\(r), \(g), \(b))" }
}

/// A rectangle in pixels, origin at the top left.
public struct PixelRect: Hashable, Sendable, CustomStringConvertible {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }
    public var description: String { "\(width)×\(height) at (\(x), \(y))" }
}

/// The few raster operations the grid needs. Callers keep rectangles inside the image: a rectangle
/// reaching outside is a programming error, not bad input.
extension RGBImage {
    /// An image of one colour.
    public static func filled(width: Int, height: Int, color: RGBColor) -> RGBImage {
        var image = RGBImage(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
        image.fill(PixelRect(x: 0, y: 0, width: width, height: height), color: color)
        return image
    }

    public func pixel(x: Int, y: Int) -> RGBColor {
        let i = (y * width + x) * 3
        return RGBColor(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    mutating func fill(_ rect: PixelRect, color: RGBColor) {
        guard !rect.isEmpty else { return }
        precondition(rect.x >= 0 && rect.y >= 0 && rect.maxX <= width && rect.maxY <= height,
                     "fill \(rect) outside \(width)×\(height)")
        let w = width
        pixels.withUnsafeMutableBufferPointer { p in
            // Fill the first row, then copy it: one memcpy per remaining row.
            let rowStart = (rect.y * w + rect.x) * 3
            for i in 0..<rect.width {
                p[rowStart + 3 * i] = color.r
                p[rowStart + 3 * i + 1] = color.g
                p[rowStart + 3 * i + 2] = color.b
            }
            let base = p.baseAddress!
            for row in 1..<rect.height {
                (base + ((rect.y + row) * w + rect.x) * 3).update(from: base + rowStart, count: rect.width * 3)
            }
        }
    }

    /// Copies `source` with its top-left corner at (x, y).
    mutating func blit(_ source: RGBImage, x: Int, y: Int) {
        precondition(x >= 0 && y >= 0 && x + source.width <= width && y + source.height <= height,
                     "blit \(source.width)×\(source.height) at (\(x), \(y)) outside \(width)×\(height)")
        let w = width, rowBytes = source.width * 3
        pixels.withUnsafeMutableBufferPointer { dst in
            source.pixels.withUnsafeBufferPointer { src in
                for row in 0..<source.height {
                    (dst.baseAddress! + ((y + row) * w + x) * 3)
                        .update(from: src.baseAddress! + row * rowBytes, count: rowBytes)
                }
            }
        }
    }

    /// The pixels inside `rect` as a new image.
    public func cropped(to rect: PixelRect) -> RGBImage {
        precondition(rect.x >= 0 && rect.y >= 0 && rect.maxX <= width && rect.maxY <= height,
                     "crop \(rect) outside \(width)×\(height)")
        var out = [UInt8](repeating: 0, count: rect.width * rect.height * 3)
        let rowBytes = rect.width * 3
        for row in 0..<rect.height {
            let from = ((rect.y + row) * width + rect.x) * 3
            out.replaceSubrange(row * rowBytes..<(row + 1) * rowBytes, with: pixels[from..<from + rowBytes])
        }
        return RGBImage(width: rect.width, height: rect.height, pixels: out)
    }
}
