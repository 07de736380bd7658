import SVDCore

/// The EXIF orientation of a photo (tag 0x0112 of the first image directory), and the transposition that shows
/// it the right way up, as Pillow's `ImageOps.exif_transpose` applies it (diffusers' `load_image` calls it, and
/// so does ComfyUI). Read from a JPEG's APP1 "Exif" segment, a PNG's eXIf chunk or a WebP's EXIF chunk; any
/// other value than 2…8, a missing tag or damaged EXIF means "as stored".
public enum ExifOrientation: Int, Sendable {
    case normal = 1
    case mirrored = 2             // Pillow: FLIP_LEFT_RIGHT
    case rotated180 = 3           // ROTATE_180
    case flippedVertically = 4    // FLIP_TOP_BOTTOM
    case transposed = 5           // TRANSPOSE
    case rotatedClockwise = 6     // ROTATE_270 (stored turned left: shown turned right)
    case transversed = 7          // TRANSVERSE
    case rotatedCounterClockwise = 8  // ROTATE_90

    /// The orientation recorded in an image file's bytes.
    public static func read(_ bytes: [UInt8]) -> ExifOrientation {
        guard let tiff = ExifLocator.tiff(in: bytes), let value = TIFFReader(tiff).orientation,
              let orientation = ExifOrientation(rawValue: value) else { return .normal }
        return orientation
    }

    /// The pixels turned the right way up.
    public func apply(to image: RGBImage) -> RGBImage {
        let w = image.width, h = image.height
        guard self != .normal else { return image }
        let swaps = rawValue >= 5
        let outW = swaps ? h : w, outH = swaps ? w : h
        // Where output pixel (x, y) comes from in the stored image.
        let source: (Int, Int) -> (Int, Int)
        switch self {
        case .normal: source = { ($0, $1) }
        case .mirrored: source = { (w - 1 - $0, $1) }
        case .rotated180: source = { (w - 1 - $0, h - 1 - $1) }
        case .flippedVertically: source = { ($0, h - 1 - $1) }
        case .transposed: source = { ($1, $0) }
        case .rotatedClockwise: source = { ($1, h - 1 - $0) }
        case .transversed: source = { (w - 1 - $1, h - 1 - $0) }
        case .rotatedCounterClockwise: source = { (w - 1 - $1, $0) }
        }
        var pixels = [UInt8](repeating: 0, count: outW * outH * 3)
        image.pixels.withUnsafeBufferPointer { from in
            pixels.withUnsafeMutableBufferPointer { to in
                for y in 0..<outH {
                    for x in 0..<outW {
                        let (sx, sy) = source(x, y)
                        let s = (sy * w + sx) * 3, d = (y * outW + x) * 3
                        to[d] = from[s]
                        to[d + 1] = from[s + 1]
                        to[d + 2] = from[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: pixels)
    }
}

/// Finds the TIFF structure that holds EXIF in a JPEG, PNG or WebP file. Every length is checked against the
/// bytes that are there: damaged files give nil, never a crash.
enum ExifLocator {
    static func tiff(in b: [UInt8]) -> ArraySlice<UInt8>? {
        if b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 { return jpeg(b) }
        if b.count >= 8, b[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return png(b) }
        if b.count >= 12, b[0..<4].elementsEqual(Array("RIFF".utf8)), b[8..<12].elementsEqual(Array("WEBP".utf8)) {
            return webp(b)
        }
        return nil
    }

    private static let exifHeader: [UInt8] = Array("Exif".utf8) + [0, 0]

    /// The first APP1 segment that starts with "Exif\0\0", before the image data.
    private static func jpeg(_ b: [UInt8]) -> ArraySlice<UInt8>? {
        var i = 2
        while i + 4 <= b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }                 // fill byte
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return nil }     // image data or end: no EXIF before it
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { return nil }
            let payload = b[(i + 4)..<(i + 2 + length)]
            if marker == 0xE1, payload.starts(with: exifHeader) { return payload.dropFirst(exifHeader.count) }
            i += 2 + length
        }
        return nil
    }

    /// The eXIf chunk's data.
    private static func png(_ b: [UInt8]) -> ArraySlice<UInt8>? {
        var i = 8
        while i + 12 <= b.count {
            let length = Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 0, length <= b.count - i - 12 else { return nil }
            let type = b[(i + 4)..<(i + 8)]
            if type.elementsEqual(Array("eXIf".utf8)) { return b[(i + 8)..<(i + 8 + length)] }
            if type.elementsEqual(Array("IEND".utf8)) { return nil }
            i += 12 + length
        }
        return nil
    }

    /// The EXIF chunk's data (with or without a leading "Exif\0\0").
    private static func webp(_ b: [UInt8]) -> ArraySlice<UInt8>? {
        var i = 12
        while i + 8 <= b.count {
            let size = Int(b[i + 4]) | Int(b[i + 5]) << 8 | Int(b[i + 6]) << 16 | Int(b[i + 7]) << 24
            guard size <= b.count - i - 8 else { return nil }
            let data = b[(i + 8)..<(i + 8 + size)]
            if b[i..<(i + 4)].elementsEqual(Array("EXIF".utf8)) {
                return data.starts(with: exifHeader) ? data.dropFirst(exifHeader.count) : data
            }
            i += 8 + size + (size & 1)
        }
        return nil
    }
}

/// Reads one tag of the first image directory of a TIFF structure ("II*\0" or "MM\0*").
struct TIFFReader {
    let bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var orientation: Int? {
        guard bytes.count >= 8 else { return nil }
        let little: Bool
        switch (bytes[bytes.startIndex], bytes[bytes.startIndex + 1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ offset: Int) -> Int? {
            guard offset >= 0, offset + 2 <= bytes.count else { return nil }
            let a = Int(bytes[bytes.startIndex + offset]), b = Int(bytes[bytes.startIndex + offset + 1])
            return little ? a | b << 8 : a << 8 | b
        }
        func u32(_ offset: Int) -> Int? {
            guard let lo = u16(offset + (little ? 0 : 2)), let hi = u16(offset + (little ? 2 : 0)) else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for entry in 0..<count {
            let at = ifd + 2 + 12 * entry
            guard let tag = u16(at) else { return nil }
            // One SHORT (type 3) or LONG (type 4), stored in the entry itself.
            guard tag == 0x0112, let type = u16(at + 2), let n = u32(at + 4), n >= 1 else { continue }
            if type == 3 { return u16(at + 8) }
            if type == 4 { return u32(at + 8) }
            return nil
        }
        return nil
    }
}
