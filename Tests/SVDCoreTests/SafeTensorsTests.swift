import Foundation
import XCTest
import TestSupport
@testable import SVDCore

/// The safetensors reader against well-formed files and against hostile ones: every malformed file must be
/// refused with a typed error that names the file (and the tensor, where one is at fault), never a crash.
final class SafeTensorsTests: XCTestCase {
    private struct Accepted: Error {}

    var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory("safetensors-tests") }
    override func tearDown() { scratch = nil }

    // MARK: Helpers

    private func write(_ data: Data, _ name: String = "file.safetensors") throws -> String {
        let url = scratch.path(name)
        try data.write(to: url)
        return url.path
    }

    /// Opens `data` as a file and returns the error it must raise.
    private func openError(_ data: Data, file: StaticString = #filePath, line: UInt = #line) throws -> SafeTensorsError {
        let path = try write(data, "bad-\(UUID().uuidString).safetensors")
        return try openError(path: path, file: file, line: line)
    }

    private func openError(path: String, file: StaticString = #filePath, line: UInt = #line) throws -> SafeTensorsError {
        do {
            _ = try SafeTensorsFile(path: path)
        } catch let error as SafeTensorsError {
            XCTAssertTrue(error.description.contains(path), "message must name the file: \(error)", file: file, line: line)
            return error
        }
        XCTFail("file was accepted", file: file, line: line)
        throw Accepted()
    }

    private func assertHeaderError(_ data: Data, mentions text: String,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let error = try openError(data, file: file, line: line)
        guard case let .badHeader(_, reason) = error else {
            return XCTFail("expected badHeader, got \(error)", file: file, line: line)
        }
        XCTAssertTrue(reason.contains(text), "'\(reason)' should mention '\(text)'", file: file, line: line)
    }

    /// One tensor entry `t` (plus optional extra header text) over `dataBytes` bytes of data; the error must
    /// be about tensor `tensor`.
    private func assertTensorError(entry: String, dataBytes: Int = 8, tensor: String = "t", mentions text: String,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let data = SafeTensorsWriter.rawFile(header: "{\"\(tensor)\": \(entry)}",
                                             data: [UInt8](repeating: 0, count: dataBytes))
        let error = try openError(data, file: file, line: line)
        guard case let .badTensor(_, name, reason) = error else {
            return XCTFail("expected badTensor, got \(error)", file: file, line: line)
        }
        XCTAssertEqual(name, tensor, file: file, line: line)
        XCTAssertTrue(error.description.contains(tensor), file: file, line: line)
        XCTAssertTrue(reason.contains(text), "'\(reason)' should mention '\(text)'", file: file, line: line)
    }

    // MARK: File-level problems

    func testMissingFile() throws {
        let error = try openError(path: scratch.path("nope.safetensors").path)
        guard case .unreadable = error else { return XCTFail("\(error)") }
    }

    func testDirectoryPath() throws {
        let dir = scratch.path("a-directory.safetensors")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let error = try openError(path: dir.path)
        guard case let .unreadable(_, reason) = error else { return XCTFail("\(error)") }
        XCTAssertTrue(reason.contains("not a regular file"), reason)
    }

    func testFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let fifo = scratch.path("pipe.safetensors")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        let error = try openError(path: fifo.path)
        guard case let .unreadable(_, reason) = error else { return XCTFail("\(error)") }
        XCTAssertTrue(reason.contains("not a regular file"), reason)
    }

    func testEmptyFile() throws {
        try assertHeaderError(Data(), mentions: "shorter than the 8-byte")
    }

    func testShorterThanEightBytes() throws {
        try assertHeaderError(Data([1, 0, 0, 0, 0]), mentions: "shorter than the 8-byte")
    }

    func testHeaderLengthBeyondFile() throws {
        let data = SafeTensorsWriter.rawFile(headerLength: 1000, header: Array("{}".utf8))
        try assertHeaderError(data, mentions: "exceeds the file size")
        // A length near 2^64 must not overflow anything.
        try assertHeaderError(SafeTensorsWriter.rawFile(headerLength: .max, header: Array("{}".utf8)),
                              mentions: "exceeds the file size")
    }

    func testHeaderOverLimit() throws {
        // A sparse file big enough to hold the claimed header, so the size check passes and the limit applies.
        let url = scratch.path("huge-header.safetensors")
        let claimed = UInt64(SafeTensorsFile.maxHeaderBytes + 1)
        try SafeTensorsWriter.rawFile(headerLength: claimed, header: Array("{".utf8)).write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: claimed + 16)
        try handle.close()
        let error = try openError(path: url.path)
        guard case let .badHeader(_, reason) = error else { return XCTFail("\(error)") }
        XCTAssertTrue(reason.contains("100 MB limit"), reason)
    }

    func testZeroLengthHeader() throws {
        try assertHeaderError(SafeTensorsWriter.rawFile(header: ""), mentions: "does not start with '{'")
    }

    func testHeaderNotJSON() throws {
        try assertHeaderError(SafeTensorsWriter.rawFile(header: "{not json at all"), mentions: "not valid JSON")
        try assertHeaderError(SafeTensorsWriter.rawFile(headerLength: 4, header: [0x7B, 0xFF, 0xFE, 0x7D]),
                              mentions: "not valid JSON")
    }

    func testHeaderNotAnObject() throws {
        try assertHeaderError(SafeTensorsWriter.rawFile(header: "[1, 2, 3]"), mentions: "does not start with '{'")
        try assertHeaderError(SafeTensorsWriter.rawFile(header: "\"text\""), mentions: "does not start with '{'")
        try assertHeaderError(SafeTensorsWriter.rawFile(header: "42"), mentions: "does not start with '{'")
    }

    func testDeeplyNestedHeaderIsRefusedNotACrash() throws {
        let depth = 200_000
        let header = "{\"t\": " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
        _ = try openError(SafeTensorsWriter.rawFile(header: header))
    }

    func testBadMetadata() throws {
        try assertHeaderError(SafeTensorsWriter.rawFile(header: "{\"__metadata__\": [1]}"), mentions: "__metadata__")
        try assertHeaderError(SafeTensorsWriter.rawFile(header: "{\"__metadata__\": {\"format\": 1}}"),
                              mentions: "'format'")
    }

    // MARK: Tensor-entry problems

    func testEntryNotAnObject() throws {
        try assertTensorError(entry: "[1, 2]", mentions: "not an object")
    }

    func testUnknownDType() throws {
        try assertTensorError(entry: #"{"dtype": "F128", "shape": [2], "data_offsets": [0, 8]}"#, mentions: "unknown dtype 'F128'")
        try assertTensorError(entry: #"{"shape": [2], "data_offsets": [0, 8]}"#, mentions: "missing dtype")
        try assertTensorError(entry: #"{"dtype": 4, "shape": [2], "data_offsets": [0, 8]}"#, mentions: "missing dtype")
    }

    func testMissingOrInvalidShape() throws {
        try assertTensorError(entry: #"{"dtype": "F32", "data_offsets": [0, 8]}"#, mentions: "shape")
        try assertTensorError(entry: #"{"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}"#, mentions: "shape")
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}"#, mentions: "invalid dimension")
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}"#, mentions: "invalid dimension")
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [true], "data_offsets": [0, 8]}"#, mentions: "invalid dimension")
        try assertTensorError(entry: #"{"dtype": "F32", "shape": ["2"], "data_offsets": [0, 8]}"#, mentions: "invalid dimension")
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [null], "data_offsets": [0, 8]}"#, mentions: "invalid dimension")
    }

    func testShapeTooLargeDoesNotOverflow() throws {
        let huge = #"{"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}"#
        try assertTensorError(entry: huge, mentions: "too large")
    }

    func testOffsetsNotTwoIntegers() throws {
        for offsets in ["[0]", "[0, 4, 8]", "[]", #"["0", "8"]"#, "[0, 8.5]", "[0, 1e30]", "8", "null"] {
            try assertTensorError(entry: #"{"dtype": "F32", "shape": [2], "data_offsets": \#(offsets)}"#,
                                  mentions: "data_offsets must be two integers")
        }
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [2]}"#, mentions: "data_offsets must be two integers")
    }

    func testOffsetsDescendingOrNegative() throws {
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}"#, mentions: "ascending")
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}"#, mentions: "ascending")
    }

    func testOffsetsPastDataSection() throws {
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}"#, dataBytes: 4,
                              mentions: "past the data section")
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [2], "data_offsets": [9223372036854775800, 9223372036854775807]}"#,
                              mentions: "past the data section")
    }

    func testByteCountDoesNotMatchShape() throws {
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}"#, mentions: "byte count 4")
        try assertTensorError(entry: #"{"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 4]}"#, mentions: "byte count 4")
        try assertTensorError(entry: #"{"dtype": "F32", "shape": [], "data_offsets": [0, 8]}"#, mentions: "byte count 8")
    }

    func testOverlappingTensors() throws {
        let header = """
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}
            """
        let error = try openError(SafeTensorsWriter.rawFile(header: header, data: [UInt8](repeating: 0, count: 12)))
        guard case let .badTensor(_, tensor, reason) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(tensor, "b")
        XCTAssertTrue(reason.contains("overlaps tensor 'a'"), reason)
    }

    func testNestedOverlapIsFoundWhateverTheHeaderOrder() throws {
        // "inner" lies wholly inside "outer"; a third tensor follows both.
        let header = """
            {"z_after": {"dtype": "U8", "shape": [4], "data_offsets": [16, 20]},
             "inner": {"dtype": "U8", "shape": [2], "data_offsets": [4, 6]},
             "outer": {"dtype": "U8", "shape": [16], "data_offsets": [0, 16]}}
            """
        let error = try openError(SafeTensorsWriter.rawFile(header: header, data: [UInt8](repeating: 0, count: 20)))
        guard case let .badTensor(_, tensor, reason) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(tensor, "inner")
        XCTAssertTrue(reason.contains("'outer'"), reason)
    }

    func testNonFloatTensorAndMissingName() throws {
        var w = SafeTensorsWriter()
        w.add("ids", dtype: "I64", shape: [2], bytes: SafeTensorsWriter.littleEndian(Int64(0)) + SafeTensorsWriter.littleEndian(Int64(1)))
        let path = try write(w.encoded())
        let file = try SafeTensorsFile(path: path)
        XCTAssertThrowsError(try file.tensor("ids")) { error in
            XCTAssertEqual(error as? SafeTensorsError,
                           .badTensor(file: path, tensor: "ids", reason: "dtype I64 is not a float type (F32, F16, BF16)"))
        }
        XCTAssertThrowsError(try file.tensor("absent")) { error in
            XCTAssertEqual(error as? SafeTensorsError, .missingTensor(file: path, tensor: "absent"))
            XCTAssertTrue("\(error)".contains(path))
        }
    }

    // MARK: Round trips

    func testFloat32RoundTrip() throws {
        let values: [Float] = [0, -0.0, 1, -1.5, 3.1415927, .greatestFiniteMagnitude, -.infinity, .leastNonzeroMagnitude]
        var w = SafeTensorsWriter()
        w.addF32("weights", shape: [2, 4], values: values)
        w.addF32("scalar", shape: [], values: [42])
        w.addF32("empty", shape: [0, 3], values: [])
        let file = try SafeTensorsFile(path: try write(w.encoded()))
        XCTAssertEqual(file.names, ["empty", "scalar", "weights"])
        let t = try file.tensor("weights")
        XCTAssertEqual(t.shape, [2, 4])
        XCTAssertEqual(t.array.map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(try file.info("weights").dtype, .f32)
        XCTAssertEqual(try file.tensor("scalar").shape, [])
        XCTAssertEqual(try file.tensor("scalar").array, [42])
        XCTAssertEqual(try file.tensor("empty").shape, [0, 3])
        XCTAssertEqual(try file.tensor("empty").count, 0)
    }

    func testFloat16RoundTrip() throws {
        let values: [Float] = [0, 1, -2, 0.5, 65504, -0.0001, 5.96e-8, .infinity]
        var w = SafeTensorsWriter()
        w.addF16("h", shape: [8], values: values)
        let file = try SafeTensorsFile(path: try write(w.encoded()))
        XCTAssertEqual(try file.info("h").dtype, .f16)
        let expected = values.map { Float(Float16($0)) }
        XCTAssertEqual(try file.tensor("h").array, expected)
        XCTAssertEqual(try file.tensor("h").array[1], 1)
        XCTAssertEqual(try file.tensor("h").array[4], 65504)
    }

    func testBFloat16RoundTrip() throws {
        let values: [Float] = [1, -2.5, 0.15625, 3.0e38, -0.0, 1.0e-30]
        var w = SafeTensorsWriter()
        w.addBF16("b", shape: [3, 2], values: values)
        let file = try SafeTensorsFile(path: try write(w.encoded()))
        XCTAssertEqual(try file.info("b").dtype, .bf16)
        let t = try file.tensor("b")
        XCTAssertEqual(t.shape, [3, 2])
        XCTAssertEqual(Array(t.array[0..<3]), [1, -2.5, 0.15625], "exactly representable values survive")
        for (got, want) in zip(t.array, values) {
            XCTAssertEqual(got, want, accuracy: abs(want) / 128, "bf16 keeps 8 significant bits")
        }
    }

    func testMetadataAndHeaderLayout() throws {
        var w = SafeTensorsWriter(metadata: ["format": "pt", "note": "x"])
        w.addF32("a", shape: [1], values: [1])
        w.addF16("b", shape: [3], values: [1, 2, 3])
        let data = w.encoded()
        XCTAssertEqual(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } % 8, 0,
                       "8 + header length is a multiple of 8")
        let file = try SafeTensorsFile(path: try write(data))
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "x"])
        XCTAssertEqual(file.tensors.count, 2, "__metadata__ is not a tensor")
        XCTAssertEqual(try file.tensor("b").array, [1, 2, 3])

        let bare = SafeTensorsWriter(metadata: nil)
        let empty = try SafeTensorsFile(path: try write(bare.encoded(), "bare.safetensors"))
        XCTAssertEqual(empty.metadata, [:])
        XCTAssertTrue(empty.tensors.isEmpty)
    }

    func testDataOrderIndependentOfHeaderOrder() throws {
        // Data stored b then a, header listing a first: offsets, not header order, locate the bytes.
        let header = """
            {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
             "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
            """
        let data = SafeTensorsWriter.littleEndian(Float(2).bitPattern) + SafeTensorsWriter.littleEndian(Float(1).bitPattern)
        let file = try SafeTensorsFile(path: try write(SafeTensorsWriter.rawFile(header: header, data: data)))
        XCTAssertEqual(try file.tensor("a").array, [1])
        XCTAssertEqual(try file.tensor("b").array, [2])
    }

    func testDemoModelFilesOpen() throws {
        let file = try SafeTensorsFile(path: Fixtures.demoModel.appendingPathComponent("vae/diffusion_pytorch_model.safetensors").path)
        XCTAssertEqual(file.tensors.count, 370)
        XCTAssertEqual(file.metadata["format"], "pt")
        let t = try file.tensor("decoder.conv_out.weight")
        XCTAssertEqual(t.shape, [3, 32, 3, 3])
        XCTAssertTrue(t.array.allSatisfy(\.isFinite))
    }
}
