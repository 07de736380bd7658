import Foundation

/// Where a file's container says the file ends, read from its top-level structure. Demuxers stop quietly
/// at a short read (a Matroska file cut inside its index still plays every frame), so a file shorter than
/// its declared extent is how truncation shows reliably.
enum ContainerExtent {
    /// The declared size in bytes, or nil when the structure does not declare one (live-style Matroska
    /// with unknown segment size) or the format is not MP4/QuickTime or Matroska/WebM.
    static func declaredSize(path: String, demuxer: String) -> Int64? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let reader = Reader(handle: handle)
        if demuxer.contains("matroska") || demuxer.contains("webm") { return matroska(reader) }
        if demuxer.contains("mp4") || demuxer.contains("mov") { return isoBoxes(reader) }
        return nil
    }

    /// ISO BMFF: top-level boxes follow each other to the end of the file.
    private static func isoBoxes(_ r: Reader) -> Int64? {
        let fileSize = r.size
        var offset: Int64 = 0
        while offset + 8 <= fileSize {
            guard let head = r.read(at: offset, count: 16), head.count >= 8 else { return nil }
            var size = Int64(head[0..<4].reduce(0) { $0 << 8 | UInt64($1) })
            if size == 1 {  // 64-bit size follows the type
                guard head.count == 16 else { return nil }
                size = Int64(truncatingIfNeeded: head[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
            } else if size == 0 {  // extends to the end of the file
                return fileSize
            }
            guard size >= 8 else { return nil }  // not box structure: leave the verdict to FFmpeg
            // A box reaching past the end means a truncated file (compared without overflowing on hostile sizes).
            guard size <= fileSize - offset else {
                let (end, overflow) = offset.addingReportingOverflow(size)
                return overflow ? Int64.max : end
            }
            offset += size
        }
        return offset
    }

    /// EBML: the EBML header element, then the Segment, whose size covers the rest of the file.
    private static func matroska(_ r: Reader) -> Int64? {
        guard let header = r.element(at: 0), header.id == 0x1A45_DFA3, let headerSize = header.size else { return nil }
        let (segmentStart, overflow) = header.dataOffset.addingReportingOverflow(headerSize)
        guard !overflow else { return nil }
        guard let segment = r.element(at: segmentStart), segment.id == 0x1853_8067 else { return nil }
        guard let size = segment.size else { return nil }
        let (end, endOverflow) = segment.dataOffset.addingReportingOverflow(size)
        return endOverflow ? Int64.max : end
    }

    private struct Reader {
        let handle: FileHandle
        var size: Int64 { Int64((try? handle.seekToEnd()) ?? 0) }

        func read(at offset: Int64, count: Int) -> [UInt8]? {
            guard (try? handle.seek(toOffset: UInt64(offset))) != nil,
                  let data = try? handle.read(upToCount: count) else { return nil }
            return [UInt8](data)
        }

        /// An EBML element's ID (with its length marker), its data size (nil if "unknown") and data offset.
        func element(at offset: Int64) -> (id: UInt32, size: Int64?, dataOffset: Int64)? {
            guard let bytes = read(at: offset, count: 12), let first = bytes.first, first != 0 else { return nil }
            let idLength = first.leadingZeroBitCount + 1
            guard idLength <= 4, bytes.count > idLength else { return nil }
            let id = bytes[0..<idLength].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let sizeFirst = bytes[idLength]
            guard sizeFirst != 0 else { return nil }
            let sizeLength = sizeFirst.leadingZeroBitCount + 1
            guard bytes.count >= idLength + sizeLength else { return nil }
            var value = UInt64(sizeFirst & (0xFF >> sizeLength))
            var allOnes = value == UInt64(0xFF >> sizeLength)
            for b in bytes[(idLength + 1)..<(idLength + sizeLength)] {
                value = value << 8 | UInt64(b)
                allOnes = allOnes && b == 0xFF
            }
            let dataOffset = offset + Int64(idLength + sizeLength)
            return (id, allOnes || value > UInt64(Int64.max) ? nil : Int64(value), dataOffset)
        }
    }
}
