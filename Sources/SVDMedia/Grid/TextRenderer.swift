import SVDCore

/// Sizes of text drawn with `BitmapFont` at an integer scale (every font pixel becomes scale × scale).
public struct TextMetrics: Hashable, Sendable {
    public let scale: Int

    public init(scale: Int) {
        precondition(scale >= 1, "text scale \(scale)")
        self.scale = scale
    }

    /// Glyph plus one column of spacing.
    public var advance: Int { (BitmapFont.glyphWidth + 1) * scale }
    /// Glyph box height, descender row included.
    public var glyphHeight: Int { BitmapFont.glyphHeight * scale }
    /// Distance between the tops of consecutive lines.
    public var lineHeight: Int { (BitmapFont.glyphHeight + 2) * scale }
    /// Space between text and the edge of the strip or box it sits in.
    public var padding: Int { 3 * scale }

    /// Width of `text` on one line (no trailing spacing column).
    public func width(of text: String) -> Int { text.isEmpty ? 0 : text.count * advance - scale }

    /// Height of `lines` lines of text, without padding.
    public func height(lines: Int) -> Int { lines <= 0 ? 0 : glyphHeight + (lines - 1) * lineHeight }

    /// Characters that fit in `width` pixels on one line.
    public func capacity(width: Int) -> Int { max(0, (width + scale) / advance) }
}

/// Draws text with `BitmapFont`. Pure pixel work: no state, no fonts on disk.
public enum TextRenderer {
    /// Draws `text` on one line with the glyph box's top-left corner at (x, y), clipped to the image.
    /// Characters without a glyph are drawn as '?'.
    public static func draw(_ text: String, into image: inout RGBImage, x: Int, y: Int, metrics: TextMetrics,
                            color: RGBColor) {
        let s = metrics.scale
        for (i, character) in text.enumerated() {
            let glyph = BitmapFont.glyph(for: character)
            let gx = x + i * metrics.advance
            for row in 0..<BitmapFont.glyphHeight {
                for column in 0..<BitmapFont.glyphWidth where glyph.isSet(column: column, row: row) {
                    let block = PixelRect(x: gx + column * s, y: y + row * s, width: s, height: s)
                    // Clip to the image, so text too long for its box is cut rather than trapping.
                    let clipped = PixelRect(x: max(block.x, 0), y: max(block.y, 0),
                                            width: min(block.maxX, image.width) - max(block.x, 0),
                                            height: min(block.maxY, image.height) - max(block.y, 0))
                    image.fill(clipped, color: color)
                }
            }
        }
    }

    /// Draws `lines` centred horizontally and vertically in `box`.
    public static func drawCentred(_ lines: [String], in box: PixelRect, into image: inout RGBImage,
                                   metrics: TextMetrics, color: RGBColor) {
        let top = box.y + (box.height - metrics.height(lines: lines.count)) / 2
        for (i, line) in lines.enumerated() {
            let left = box.x + (box.width - metrics.width(of: line)) / 2
            draw(line, into: &image, x: left, y: top + i * metrics.lineHeight, metrics: metrics, color: color)
        }
    }
}

/// Breaks label text into lines that fit a width, so that long labels grow the strip instead of being cut.
public enum TextWrapper {
    /// Lays out `items` (e.g. "seed=42") separated by two spaces, breaking between items; an item too
    /// long for a line breaks after its '=', and a piece still too long is cut and ends in "...".
    /// Explicit "\n" in an item starts a new line.
    public static func lines(items: [String], width: Int, metrics: TextMetrics) -> [String] {
        let capacity = max(1, metrics.capacity(width: width))
        var pieces: [(text: String, startsLine: Bool)] = []
        for item in items {
            for (n, part) in item.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for (k, piece) in split(String(part), capacity: capacity).enumerated() {
                    pieces.append((piece, n > 0 || k > 0))
                }
            }
        }
        var lines: [String] = []
        var current = ""
        for piece in pieces {
            if current.isEmpty {
                current = piece.text
            } else if !piece.startsLine && current.count + 2 + piece.text.count <= capacity {
                current += "  " + piece.text
            } else {
                lines.append(current)
                current = piece.text
            }
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current) }
        return lines
    }

    /// One item as pieces of at most `capacity` characters.
    private static func split(_ item: String, capacity: Int) -> [String] {
        if item.count <= capacity { return [item] }
        if let eq = item.firstIndex(of: "="), item.index(after: eq) != item.endIndex {
            let key = String(item[...eq]), value = String(item[item.index(after: eq)...])
            return [truncate(key, capacity), truncate(value, capacity)]
        }
        return [truncate(item, capacity)]
    }

    static func truncate(_ text: String, _ capacity: Int) -> String {
        guard text.count > capacity else { return text }
        guard capacity > 3 else { return String(text.prefix(capacity)) }
        return String(text.prefix(capacity - 3)) + "..."
    }
}
