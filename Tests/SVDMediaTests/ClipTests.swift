import Foundation
import SVDCore
import TestSupport
import XCTest
@testable import SVDMedia

final class ClipTests: XCTestCase {
    private var scratch: ScratchDirectory!
    private var dir: URL { scratch.url }
    private let fps = 7

    override func setUpWithError() throws { scratch = try ScratchDirectory("cliptests") }
    override func tearDown() { scratch = nil }

    /// 25 frames of 128×96: a moving smooth gradient plus mild deterministic noise.
    static func syntheticFrames(count: Int = 25, width: Int = 128, height: Int = 96) -> [RGBImage] {
        var state: UInt32 = 12345
        return (0..<count).map { t in
            var px = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                for x in 0..<width {
                    state = state &* 1_664_525 &+ 1_013_904_223
                    let noise = Int(state >> 29) - 4  // −4…3
                    let i = (y * width + x) * 3
                    let fx = Double(x + 2 * t) / Double(width), fy = Double(y + t) / Double(height)
                    px[i] = UInt8(clamping: Int(40 + 170 * fx) + noise)
                    px[i + 1] = UInt8(clamping: Int(30 + 190 * fy) + noise)
                    px[i + 2] = UInt8(clamping: Int(128 + 100 * sin(6 * (fx + fy))) + noise)
                }
            }
            return RGBImage(width: width, height: height, pixels: px)
        }
    }

    private func write(_ format: ClipFormat, name: String? = nil, frames: [RGBImage]? = nil, comment: String?? = nil,
                       overwrite: Bool = false) throws -> (url: URL, recipe: Recipe, frames: [RGBImage]) {
        let frames = frames ?? Self.syntheticFrames()
        let settings = try EncoderSettings.standard(format)
        let recipe = try RecipeSample.recipe(encoder: settings, framesSHA256: Digests.sha256Hex(frames: frames))
        let url = dir.appendingPathComponent(name ?? "clip.\(format.fileExtension)")
        try ClipWriter.write(frames, fps: fps, settings: settings, comment: comment ?? (try recipe.json()), to: url,
                             overwrite: overwrite)
        return (url, recipe, frames)
    }

    private func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    }

    // MARK: round trips

    func testRoundTripInAllFormats() throws {
        for format in ClipFormat.allCases {
            let (url, recipe, frames) = try write(format)
            let clip = try ClipReader.decode(url)
            let s = clip.probe.stream
            XCTAssertEqual(clip.frames.count, 25, "\(format)")
            XCTAssertEqual(s.frameCount, 25, "\(format)")
            XCTAssertEqual(s.width, 128, "\(format)")
            XCTAssertEqual(s.height, 96, "\(format)")
            XCTAssertEqual(s.frameRate, FrameRate(7, 1), "\(format)")
            XCTAssertEqual(try Recipe.decode(comment: clip.probe.comment, file: url.path), recipe, "\(format)")
            XCTAssertEqual(clip.probe.comment, try recipe.json())

            let psnr = Self.psnr(frames, clip.frames)
            switch format {
            case .mkv:
                XCTAssertEqual(s.codec, "ffv1")
                XCTAssertEqual(s.pixelFormat, "bgr0")
                XCTAssertTrue(s.isLossless)
                XCTAssertEqual(clip.frames, frames, "FFV1 must give back the exact RGB frames")
                XCTAssertEqual(Digests.sha256Hex(frames: clip.frames), recipe.framesSHA256)
                XCTAssertEqual(s.color.matrix, "gbr")
            case .mp4, .webm:
                XCTAssertEqual(s.codec, format == .mp4 ? "h264" : "vp9")
                XCTAssertEqual(s.pixelFormat, "yuv420p")
                XCTAssertFalse(s.isLossless)
                XCTAssertGreaterThan(psnr, 30, "\(format)")
                XCTAssertEqual(s.color, .bt709Limited, "\(format) tags BT.709 limited range")
            }
            // The probe-only path agrees with the decoding path.
            let probe = try ClipReader.probe(url)
            XCTAssertEqual(probe.stream, s)
            XCTAssertEqual(probe.metadata, clip.probe.metadata)
            print("clip \(format): \(s.fileSize) bytes, "
                + "PSNR \(psnr.isInfinite ? "inf" : String(format: "%.2f", psnr)) dB, container \(s.container)")
        }
    }

    /// If the tag said BT.709 but the pixels were converted with BT.601, saturated colours would shift by
    /// far more than compression noise. Flat colour patches make the matrix visible.
    func testColourMatrixMatchesTheTag() throws {
        let colours: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [230, 180, 40]]
        let frames = (0..<4).map { t -> RGBImage in
            RGBImage(width: 64, height: 64, pixels: Array((0..<64 * 64).map { _ in colours[t] }.joined()))
        }
        for format in [ClipFormat.mp4, .webm] {
            let (url, _, _) = try write(format, name: "flat.\(format.rawValue)", frames: frames)
            let back = try ClipReader.decode(url).frames
            for (t, frame) in back.enumerated() {
                let centre = (32 * 64 + 32) * 3
                for c in 0..<3 {
                    XCTAssertLessThanOrEqual(abs(Int(frame.pixels[centre + c]) - Int(colours[t][c])), 3,
                                             "\(format) frame \(t) channel \(c)")
                }
            }
        }
    }

    func testSecondWriteIsByteIdentical() throws {
        for format in ClipFormat.allCases {
            let first = try write(format, name: "a.\(format.rawValue)")
            let second = try write(format, name: "b.\(format.rawValue)")
            let a = try Data(contentsOf: first.url), b = try Data(contentsOf: second.url)
            XCTAssertEqual(a.count, b.count, "\(format)")
            XCTAssertTrue(a == b, "\(format) files differ")
            XCTAssertNil(a.range(of: Data("Lavf59".utf8)), "\(format) carries a library version string")
        }
    }

    // MARK: atomic writing

    func testOddSizeIsRefusedAndLeavesNothing() throws {
        let frames = Self.syntheticFrames(count: 3, width: 127, height: 96)
        XCTAssertThrowsError(try write(.mp4, frames: frames)) { error in
            guard case .sizeNotSubsampleable = error as? ClipWriteError else { return XCTFail("\(error)") }
            XCTAssertTrue(String(describing: error).contains("clip.mp4"))
            XCTAssertTrue(String(describing: error).contains("127×96"))
        }
        XCTAssertEqual(try leftovers(), [])
        // FFV1 bgr0 has no chroma subsampling: odd sizes are fine there.
        let odd = try write(.mkv, frames: frames)
        XCTAssertEqual(try ClipReader.decode(odd.url).frames, frames)
    }

    func testFailureAfterTheFileWasStartedLeavesNothing() throws {
        var frames = Self.syntheticFrames(count: 6)
        frames[4] = Self.syntheticFrames(count: 1, width: 64, height: 48)[0]
        for format in ClipFormat.allCases {
            XCTAssertThrowsError(try write(format, frames: frames)) { error in
                guard case let .frameSizeMismatch(_, index, _, _) = error as? ClipWriteError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(index, 4)
            }
            XCTAssertEqual(try leftovers(), [], "\(format)")
        }
        // A muxer option typo is found after the temporary file exists.
        var settings = try EncoderSettings.standard(.mkv)
        settings.muxerOptions["fflagz"] = "+bitexact"
        let url = dir.appendingPathComponent("typo.mkv")
        XCTAssertThrowsError(try ClipWriter.write(Self.syntheticFrames(count: 2), fps: 7, settings: settings,
                                                  comment: nil, to: url)) { error in
            guard case let .unusedOptions(_, _, keys) = error as? ClipWriteError else { return XCTFail("\(error)") }
            XCTAssertEqual(keys, ["fflagz"])
        }
        settings = try EncoderSettings.standard(.mp4)
        settings.codecOptions["presett"] = "fast"
        XCTAssertThrowsError(try ClipWriter.write(Self.syntheticFrames(count: 2), fps: 7, settings: settings,
                                                  comment: nil, to: url)) { error in
            guard case let .unusedOptions(_, _, keys) = error as? ClipWriteError else { return XCTFail("\(error)") }
            XCTAssertEqual(keys, ["presett"])
        }
        XCTAssertEqual(try leftovers(), [])
    }

    func testUnwritableFolder() throws {
        // The tests may run as root, for whom permission bits do not stop writes: use a folder that
        // cannot exist (its parent is a regular file).
        let blocker = dir.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: blocker)
        let url = blocker.appendingPathComponent("clip.mp4")
        XCTAssertThrowsError(try ClipWriter.write(Self.syntheticFrames(count: 2), fps: 7,
                                                  settings: try .standard(.mp4), comment: nil, to: url)) { error in
            XCTAssertTrue(String(describing: error).contains(url.path), "\(error)")
        }
        XCTAssertEqual(try leftovers(), ["not-a-folder"])
    }

    func testExistingFileIsReplacedOnlyWhenAsked() throws {
        let url = dir.appendingPathComponent("clip.mkv")
        try Data("precious".utf8).write(to: url)
        XCTAssertThrowsError(try write(.mkv)) { error in
            guard case .alreadyExists = error as? ClipWriteError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try Data(contentsOf: url), Data("precious".utf8))
        XCTAssertEqual(try leftovers(), ["clip.mkv"])
        _ = try write(.mkv, overwrite: true)
        XCTAssertEqual(try ClipReader.decode(url).frames.count, 25)
        XCTAssertEqual(try leftovers(), ["clip.mkv"])
    }

    // MARK: other tools

    func testFFprobeShowsTheRecipe() throws {
        guard let ffprobe = ["/usr/bin/ffprobe", "/usr/local/bin/ffprobe"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else { throw XCTSkip("ffprobe is not installed") }
        for format in ClipFormat.allCases {
            let (url, recipe, _) = try write(format)
            let (status, out, _) = try Self.run(ffprobe, ["-v", "error", "-show_format", "-show_streams", "-of", "json", url.path])
            XCTAssertEqual(status, 0)
            let json = try JSONValue.parse(Data(out.utf8))
            let tags = json["format"]?["tags"]?.objectValue ?? [:]
            let comment = tags.first { $0.key.lowercased() == "comment" }?.value.stringValue
            XCTAssertEqual(comment, try recipe.json(), "\(format)")
            XCTAssertEqual(try Recipe.decode(comment: comment, file: url.path), recipe)
            let stream = json["streams"]?.arrayValue?.first
            XCTAssertEqual(stream?["r_frame_rate"]?.stringValue, "7/1", "\(format)")
            if format != .mkv {
                XCTAssertEqual(stream?["color_space"]?.stringValue, "bt709", "\(format)")
                XCTAssertEqual(stream?["color_range"]?.stringValue, "tv", "\(format)")
            }
            // A normal player decodes it without a single warning.
            let ffmpeg = (ffprobe as NSString).deletingLastPathComponent + "/ffmpeg"
            if FileManager.default.isExecutableFile(atPath: ffmpeg) {
                let (rc, _, warnings) = try Self.run(ffmpeg, ["-v", "warning", "-nostdin", "-i", url.path, "-f", "null", "-"])
                XCTAssertEqual(rc, 0)
                XCTAssertEqual(warnings, "", "\(format)")
            }
            print("ffprobe \(format): tags \(tags.keys.sorted()), stream colour "
                + "\(stream?["color_space"]?.stringValue ?? "-")/\(stream?["color_primaries"]?.stringValue ?? "-")/"
                + "\(stream?["color_transfer"]?.stringValue ?? "-")/\(stream?["color_range"]?.stringValue ?? "-")")
        }
    }

    // MARK: damaged input

    func testDamagedFilesGiveTypedErrors() throws {
        let (mp4, _, _) = try write(.mp4)
        let data = try Data(contentsOf: mp4)
        func file(_ name: String, _ bytes: Data) throws -> URL {
            let url = dir.appendingPathComponent(name)
            try bytes.write(to: url)
            return url
        }
        let cases: [(URL, String)] = [
            (try file("half.mp4", data.prefix(data.count / 2)), "truncated"),
            (try file("head.mp4", data.prefix(100)), "truncated"),
            (try file("garbage.mp4", Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })), "notAVideo"),
            (try file("empty.mp4", Data()), "notAVideo"),
            (try file("sound.wav", Self.wav()), "notAVideo"),
            (try file("text.mkv", Data("hello, this is not a video\n".utf8)), "notAVideo"),
            (dir.appendingPathComponent("missing.mp4"), "unreadable"),
            (dir, "unreadable"),
        ]
        for (url, expected) in cases {
            for decode in [false, true] {
                do {
                    if decode { _ = try ClipReader.decode(url) } else { _ = try ClipReader.probe(url) }
                    XCTFail("\(url.lastPathComponent) read without error")
                } catch let error as ClipReadError {
                    XCTAssertEqual(Self.kind(error), expected, "\(url.lastPathComponent): \(error)")
                    XCTAssertTrue(error.description.contains(url.lastPathComponent), error.description)
                }
            }
        }
        // The message gives the size the container declares: here the whole file's.
        XCTAssertThrowsError(try ClipReader.probe(dir.appendingPathComponent("half.mp4"))) { error in
            XCTAssertTrue("\(error)".hasSuffix("is truncated: the file has \(data.count / 2) of its \(data.count) bytes"), "\(error)")
        }
        // Every format, cut anywhere (even inside the trailing index, after the last frame): an error.
        for format in ClipFormat.allCases {
            let (url, _, _) = try write(format, name: "whole.\(format.rawValue)")
            let bytes = try Data(contentsOf: url)
            for cut in [bytes.count / 2, bytes.count - 200, bytes.count - 1, 100] {
                let part = try file("cut-\(cut).\(format.rawValue)", bytes.prefix(cut))
                for decode in [false, true] {
                    do {
                        if decode { _ = try ClipReader.decode(part) } else { _ = try ClipReader.probe(part) }
                        XCTFail("\(format) cut at \(cut) of \(bytes.count) read without error")
                    } catch let error as ClipReadError {
                        let expected = cut == 100 ? ["notAVideo", "truncated"] : ["truncated"]
                        XCTAssertTrue(expected.contains(Self.kind(error)), "\(format) cut at \(cut): \(error)")
                    }
                }
            }
        }
    }

    private static func kind(_ error: ClipReadError) -> String {
        switch error {
        case .unreadable: return "unreadable"
        case .notAVideo: return "notAVideo"
        case .truncated: return "truncated"
        case .damaged: return "damaged"
        }
    }

    /// A valid 0.1 s mono 8 kHz WAV: a real media file without video.
    private static func wav() -> Data {
        let samples = 800
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        d.append(contentsOf: Array("RIFF".utf8)); u32(UInt32(36 + samples * 2)); d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(1); u32(8000); u32(16000); u16(2); u16(16)
        d.append(contentsOf: Array("data".utf8)); u32(UInt32(samples * 2))
        for i in 0..<samples { u16(UInt16(bitPattern: Int16(sin(Double(i) * 0.3) * 8000))) }
        return d
    }

    // MARK: helpers

    static func psnr(_ a: [RGBImage], _ b: [RGBImage]) -> Double {
        var sum = 0.0, n = 0
        for (x, y) in zip(a, b) {
            for (p, q) in zip(x.pixels, y.pixels) {
                let d = Double(p) - Double(q)
                sum += d * d
            }
            n += x.pixels.count
        }
        return sum == 0 ? .infinity : 10 * log10(255 * 255 / (sum / Double(n)))
    }

    static func run(_ tool: String, _ args: [String]) throws -> (Int32, String, String) {
        try runProcess(URL(fileURLWithPath: tool), args)
    }
}
