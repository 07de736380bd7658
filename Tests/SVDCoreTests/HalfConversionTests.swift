import Foundation
import XCTest
import TestSupport
@testable import SVDCore

final class HalfConversionTests: XCTestCase {
    static let allHalves: [UInt16] = (0...UInt16.max).map { $0 }

    static func converted(_ halves: [UInt16], portable: Bool = false) -> [UInt32] {
        var out = [Float](repeating: 0, count: halves.count)
        halves.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { dst in
                if portable {
                    HalfConversion.float16ToFloat32Portable(src.baseAddress!, into: dst.baseAddress!, count: halves.count)
                } else {
                    HalfConversion.toFloat32(src.baseAddress!, format: .float16, into: dst.baseAddress!, count: halves.count)
                }
            }
        }
        return out.map(\.bitPattern)
    }

    /// The dispatched path (F16C here when the CPU has it) and the portable one agree on every float16.
    func testFastAndPortablePathsAgreeOnAllValues() {
        XCTAssertEqual(Self.converted(Self.allHalves), Self.converted(Self.allHalves, portable: true))
    }

    /// Every non-NaN float16 converts exactly as Swift's Float(Float16); NaNs keep sign and payload, made quiet.
    func testAllValuesMatchSwiftConversion() {
        let out = Self.converted(Self.allHalves)
        for h in Self.allHalves {
            let reference = Float(Float16(bitPattern: h)).bitPattern
            if Float16(bitPattern: h).isNaN {
                XCTAssertEqual(out[Int(h)], reference | 0x0040_0000, "NaN 0x\(String(h, radix: 16))")
            } else {
                XCTAssertEqual(out[Int(h)], reference, "0x\(String(h, radix: 16))")
            }
        }
    }

    func testSpecialValues() {
        let cases: [(UInt16, UInt32)] = [
            (0x0000, 0x0000_0000),  // +0
            (0x8000, 0x8000_0000),  // −0
            (0x0001, 0x3380_0000),  // smallest subnormal, 2^-24
            (0x8001, 0xB380_0000),
            (0x03FF, 0x387F_C000),  // largest subnormal
            (0x0200, 0x3800_0000),  // 2^-15
            (0x0400, 0x3880_0000),  // smallest normal, 2^-14
            (0x7BFF, 0x477F_E000),  // 65504
            (0x3C00, 0x3F80_0000),  // 1
            (0x7C00, 0x7F80_0000),  // +inf
            (0xFC00, 0xFF80_0000),  // −inf
            (0x7E00, 0x7FC0_0000),  // quiet NaN
            (0xFE01, 0xFFC0_2000),  // negative quiet NaN with payload
            (0x7C01, 0x7FC0_2000),  // signalling NaN comes out quiet, payload kept
        ]
        for (half, expected) in cases {
            XCTAssertEqual(Self.converted([half])[0], expected, "0x\(String(half, radix: 16))")
            XCTAssertEqual(Self.converted([half], portable: true)[0], expected, "portable 0x\(String(half, radix: 16))")
        }
    }

    /// Unaligned sources and lengths that end in the scalar tail of the vector loop.
    func testUnalignedSourceAndOddLengths() {
        let halves = (0..<200).map { UInt16(truncatingIfNeeded: $0 &* 2654435761) }
        let bytes = [UInt8](repeating: 0, count: 1) + halves.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        for count in [0, 1, 7, 8, 31, 33, 199] {
            var out = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { src in
                out.withUnsafeMutableBufferPointer { dst in
                    HalfConversion.toFloat32(src.baseAddress! + 1, format: .float16, into: dst.baseAddress!, count: count)
                }
            }
            XCTAssertEqual(out.map(\.bitPattern), Array(Self.converted(halves).prefix(count)), "count \(count)")
        }
    }

    func testBFloat16IsTheHighHalf() {
        let halves: [UInt16] = [0x0000, 0x8000, 0x0001, 0x3F80, 0x7F80, 0xFF80, 0x7FC1, 0x7F81]
        var out = [Float](repeating: 0, count: halves.count)
        halves.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { dst in
                HalfConversion.toFloat32(src.baseAddress!, format: .bfloat16, into: dst.baseAddress!, count: halves.count)
            }
        }
        XCTAssertEqual(out.map(\.bitPattern), halves.map { UInt32($0) << 16 })
    }

    /// A compact weight expands to the tensor the file gives at load, and takes half the bytes.
    func testCompactWeightExpandsLikeTheFile() throws {
        let scratch = try ScratchDirectory("half-conversion")
        var writer = SafeTensorsWriter()
        writer.add("w", dtype: "F16", shape: [256, 257], bytes: (0..<(256 * 257)).flatMap {
            SafeTensorsWriter.littleEndian(UInt16(truncatingIfNeeded: $0 &* 40503))
        })
        try writer.write(to: scratch.path("w.safetensors"))
        let file = try SafeTensorsFile(path: scratch.path("w.safetensors").path)
        let weight = try file.weight("w")
        XCTAssertTrue(weight.isCompact)
        XCTAssertEqual(weight.storedBytes, 256 * 257 * 2)
        XCTAssertEqual(weight.float32().array.map(\.bitPattern), try file.tensor("w").array.map(\.bitPattern))
        XCTAssertEqual(weight.reshaped([257, 256]).withFloat32 { $0.shape }, [257, 256])
    }
}
