import Foundation
import SVDCore
import TestSupport
import XCTest
@testable import SVDMedia

/// A complete recipe with every field set, shared by the recipe and clip tests.
enum RecipeSample {
    static let parameters = VideoParameters(seed: Seed(UInt64(42)), numFrames: 25, width: 128, height: 96,
                                            numInferenceSteps: 4, fps: 7, motionBucketId: 127, noiseAugStrength: 0.02,
                                            minGuidanceScale: 1.0, maxGuidanceScale: 3.0, decodeChunkSize: 8)

    static func recipe(encoder: EncoderSettings, framesSHA256: String = String(repeating: "f", count: 64),
                       derived: Bool = true) throws -> Recipe {
        let model = ModelRecord(
            name: "stabilityai/stable-video-diffusion-img2vid",
            variant: "fp16",
            fingerprint: ModelFingerprint(files: ["unet/config.json": String(repeating: "1", count: 64),
                                                        "unet/diffusion_pytorch_model.fp16.safetensors": String(repeating: "2", count: 64)],
                                                sha256: String(repeating: "3", count: 64)))
        let input = InputRecord(name: "images/cat é.png", path: "/data/images/cat é.png",
                                fileSHA256: String(repeating: "4", count: 64), pixelsSHA256: String(repeating: "5", count: 64),
                                width: 128, height: 96)
        return try Recipe(model: model, input: input, parameters: RenderParameters(parameters), encoder: encoder,
                          framesSHA256: framesSHA256,
                          diagnostics: RecipeDiagnostics(cpu: "AMD EPYC \"test\" CPU", blasCore: "Zen", threads: 2),
                          derivedFrom: derived ? String(repeating: "6", count: 64) : nil,
                          changes: derived ? ["motion_bucket_id": "180", "fps": "8"] : nil)
    }
}

final class RecipeTests: XCTestCase {
    func testJSONRoundTripKeepsEveryField() throws {
        for derived in [true, false] {
            let recipe = try RecipeSample.recipe(encoder: try .standard(.webm, crf: 33), derived: derived)
            let text = try recipe.json()
            XCTAssertFalse(text.contains("\n"), "stored recipes are one line")
            let back = try Recipe.decode(comment: text, file: "x.webm")
            XCTAssertEqual(back, recipe)
            XCTAssertEqual(try Recipe.decode(comment: try recipe.json(pretty: true), file: "x.webm"), recipe)
        }
    }

    func testJSONLayout() throws {
        let recipe = try RecipeSample.recipe(encoder: try .standard(.mp4))
        let json = try JSONValue.parse(Data(try recipe.json().utf8))
        XCTAssertEqual(json["svdbatch"]?.intValue, 1)
        XCTAssertEqual(json["svdbatch_version"]?.stringValue, Recipe.toolVersion)
        XCTAssertEqual(json["model"]?["fingerprint"]?["sha256"]?.stringValue, String(repeating: "3", count: 64))
        XCTAssertEqual(json["input"]?["pixels_sha256"]?.stringValue, String(repeating: "5", count: 64))
        let p = try XCTUnwrap(json["parameters"])
        XCTAssertEqual(p["seed"]?.stringValue, "42")
        XCTAssertEqual(p["generator_seed"]?.intValue, 42)
        XCTAssertEqual(p["noise_source"]?.stringValue, "torch-cpu-mt19937")
        XCTAssertEqual(p["precision"]?.stringValue, "float32")
        for key in ["width", "height", "num_frames", "num_inference_steps", "fps", "motion_bucket_id",
                    "noise_aug_strength", "min_guidance_scale", "max_guidance_scale", "decode_chunk_size"] {
            XCTAssertNotNil(p[key], key)
        }
        XCTAssertEqual(json["encoder"]?["codec_options"]?["crf"]?.stringValue, "18")
        XCTAssertEqual(json["encoder"]?["color"]?["matrix"]?.stringValue, "bt709")
        XCTAssertEqual(json["diagnostics"]?["blas_core"]?.stringValue, "Zen")
        XCTAssertEqual(json["changes"]?["fps"]?.stringValue, "8")
        XCTAssertNotNil(json["derived_from"])
        XCTAssertEqual(json["job_key"]?.stringValue?.count, 64)

        let plain = try JSONValue.parse(Data(try RecipeSample.recipe(encoder: try .standard(.mp4), derived: false).json().utf8))
        XCTAssertNil(plain["derived_from"], "absent optionals are left out, not null")
        XCTAssertNil(plain["changes"])
    }

    func testJobKeyCoversExactlyWhatDeterminesTheClip() throws {
        let base = try RecipeSample.recipe(encoder: try .standard(.mp4))
        func key(model: String = base.model.fingerprint.sha256, pixels: String = base.input.pixelsSHA256,
                 _ edit: (inout VideoParameters) -> Void = { _ in }, encoder: EncoderSettings? = nil,
                 precision: String = RenderParameters.float32) throws -> String {
            var v = RecipeSample.parameters
            edit(&v)
            return try Recipe.jobKey(modelSHA256: model, inputPixelsSHA256: pixels,
                                     parameters: RenderParameters(v, precision: precision),
                                     encoder: encoder ?? base.encoder)
        }
        XCTAssertEqual(try key(), base.jobKey)
        XCTAssertEqual(try base.recomputedJobKey(), base.jobKey)

        // Not in the key: version, names, paths, file hash, diagnostics, frames hash, derivation.
        var other = base
        other.svdbatchVersion = "9.9"
        other.model.name = "elsewhere"
        other.input.path = "/other"
        other.input.fileSHA256 = String(repeating: "9", count: 64)
        other.diagnostics = RecipeDiagnostics(cpu: "x", blasCore: "Haswell", threads: 64)
        other.derivedFrom = nil
        XCTAssertEqual(try other.recomputedJobKey(), base.jobKey)
        // Seeds that give the same generator seed render the same frames.
        XCTAssertEqual(try key { $0.seed = Seed(UInt64(42) + (1 << 32)) }, base.jobKey)

        var variants: [String] = [
            try key(model: String(repeating: "a", count: 64)),
            try key(pixels: String(repeating: "a", count: 64)),
            try key { $0.seed = Seed(UInt64(43)) },
            try key { $0.width = 136 }, try key { $0.height = 104 },
            try key { $0.numFrames = 14 }, try key { $0.numInferenceSteps = 5 },
            try key { $0.fps = 8 }, try key { $0.motionBucketId = 128 },
            try key { $0.noiseAugStrength = 0.03 }, try key { $0.minGuidanceScale = 1.5 },
            try key { $0.maxGuidanceScale = 2.5 }, try key { $0.decodeChunkSize = 4 },
            try key(precision: "float16"),
            try key(encoder: try .standard(.mp4, crf: 20)),
            try key(encoder: try .standard(.webm)), try key(encoder: try .standard(.mkv)),
        ]
        var threads = base.encoder
        threads.codecOptions["threads"] = "2"
        variants.append(try key(encoder: threads))
        variants.append(base.jobKey)
        XCTAssertEqual(Set(variants).count, variants.count, "every input of the key changes it")
    }

    func testCanonicalJSON() throws {
        let value = try JSONValue.parse(Data(#"{"b": [1, 2.50, 3.0, 1e-7], "a": {"z": "q\"\\\n\u0001é", "y": true, "x": null}}"#.utf8))
        XCTAssertEqual(CanonicalJSON.text(value), #"{"a":{"x":null,"y":true,"z":"q\"\\\n\u0001é"},"b":[1,2.5,3,1e-07]}"#)
        // The same values printed differently give the same text.
        XCTAssertEqual(CanonicalJSON.text(try JSONValue.parse(Data(#"{"n": 3}"#.utf8))),
                       CanonicalJSON.text(try JSONValue.parse(Data(#"{"n": 3.0}"#.utf8))))
    }

    func testDecodeErrorsAreTyped() throws {
        XCTAssertEqual(decodeError(nil), .missing(path: "c.mkv"))
        XCTAssertEqual(decodeError(""), .missing(path: "c.mkv"))
        guard case .notARecipe = decodeError("made with love") else { return XCTFail("plain text") }
        guard case .notARecipe = decodeError(#"{"title": "x"}"#) else { return XCTFail("foreign JSON") }
        XCTAssertEqual(decodeError(#"{"svdbatch": 2}"#), .unsupportedSchema(path: "c.mkv", version: 2))
        guard case let .damaged(_, reason) = decodeError(#"{"svdbatch": 1}"#) else { return XCTFail("empty recipe") }
        XCTAssertTrue(reason.contains("missing"), reason)
        guard case .damaged = decodeError(#"{"svdbatch": "one"}"#) else { return XCTFail("bad schema") }

        let good = try RecipeSample.recipe(encoder: try .standard(.mkv)).json()
        guard case let .damaged(_, cut) = decodeError(String(good.prefix(good.count / 2))) else {
            return XCTFail("cut JSON")
        }
        XCTAssertFalse(cut.isEmpty)
        // A generator seed that contradicts the seed means the recipe was altered.
        let tampered = good.replacingOccurrences(of: #""generator_seed":42"#, with: #""generator_seed":41"#)
        XCTAssertNotEqual(tampered, good)
        guard case let .damaged(_, why) = decodeError(tampered) else { return XCTFail("tampered seed") }
        XCTAssertTrue(why.contains("generator_seed"), why)
        XCTAssertTrue(RecipeError.missing(path: "c.mkv").description.contains("c.mkv"))
    }

    private func decodeError(_ comment: String?) -> RecipeError? {
        do {
            _ = try Recipe.decode(comment: comment, file: "c.mkv")
            return nil
        } catch {
            return error as? RecipeError
        }
    }

    func testEncoderSettings() throws {
        XCTAssertEqual(try EncoderSettings.standard(.mp4).crf, 18)
        XCTAssertEqual(try EncoderSettings.standard(.webm).crf, 30)
        XCTAssertEqual(try EncoderSettings.standard(.webm).codecOptions["b"], "0")
        XCTAssertEqual(try EncoderSettings.standard(.mp4).muxerOptions["movflags"], "+faststart")
        XCTAssertNil(try EncoderSettings.standard(.mkv).crf)
        XCTAssertEqual(try EncoderSettings.standard(.mkv).pixelFormat, "bgr0")
        for format in ClipFormat.allCases {
            XCTAssertEqual(try EncoderSettings.standard(format).muxerOptions["fflags"], "+bitexact")
            XCTAssertEqual(try EncoderSettings.standard(format).codecOptions["threads"], "1")
        }
        XCTAssertThrowsError(try EncoderSettings.standard(.mp4, crf: 52))
        XCTAssertThrowsError(try EncoderSettings.standard(.mkv, crf: 10)) { error in
            XCTAssertEqual(error as? EncoderSettingsError, .crfNotApplicable(format: .mkv, crf: 10))
        }
    }

    func testDigests() throws {
        XCTAssertEqual(Digests.sha256Hex(Data("abc".utf8)),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let a = RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        let b = RGBImage(width: 1, height: 1, pixels: [7, 8, 9])
        XCTAssertEqual(Digests.sha256Hex(frames: [a, b]), Digests.sha256Hex([1, 2, 3, 4, 5, 6, 7, 8, 9] as [UInt8]))

        let scratch = try ScratchDirectory("recipe")
        defer { withExtendedLifetime(scratch) {} }
        let dir = scratch.url
        // Larger than one read so the streaming path is exercised.
        let bytes = Data((0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
        let file = dir.appendingPathComponent("weights.bin")
        try bytes.write(to: file)
        XCTAssertEqual(try Digests.sha256Hex(fileAt: file), Digests.sha256Hex(bytes))
        XCTAssertThrowsError(try Digests.sha256Hex(fileAt: dir.appendingPathComponent("missing"))) { error in
            XCTAssertTrue(String(describing: error).contains("missing"))
        }

        let image = RGBImage(width: 2, height: 2, pixels: Array(1...12))
        let png = dir.appendingPathComponent("in.png")
        let pngBytes = try PNGWriter.encode(image)
        try Data(pngBytes).write(to: png)
        let link = dir.appendingPathComponent("link.png")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: png)
        let (input, decoded) = try InputRecord.read(name: "link.png", url: link)
        XCTAssertEqual(decoded, image)
        XCTAssertEqual(input.path, png.resolvingSymlinksInPath().path)
        XCTAssertEqual(input.fileSHA256, Digests.sha256Hex(pngBytes))
        XCTAssertEqual(input.pixelsSHA256, Digests.sha256Hex(image.pixels))
        XCTAssertEqual(input.width, 2)
    }

    func testDiagnosticsDescribeThisMachineAndLeaveTheThreadCountOut() throws {
        let d = RecipeDiagnostics.current
        XCTAssertNotEqual(d.cpu, "unknown", "this Linux machine has /proc/cpuinfo")
        XCTAssertEqual(d.blasCore, BLAS.coreName)
        XCTAssertTrue(d.blasVersion?.hasPrefix("0.3.") == true, d.blasVersion ?? "nil")
        XCTAssertTrue(["avx512", "avx2+fma", "baseline"].contains(d.cpuVectorClass ?? ""))
        let json = String(decoding: try JSONEncoder().encode(d), as: UTF8.self)
        XCTAssertFalse(json.contains("threads"), "clip bytes must not depend on --threads: \(json)")
        // Recipes written before the release and vector class were recorded still read.
        let old = try JSONDecoder().decode(RecipeDiagnostics.self,
                                           from: Data(#"{"cpu":"AMD EPYC","blas_core":"Haswell","threads":2}"#.utf8))
        XCTAssertEqual(old, RecipeDiagnostics(cpu: "AMD EPYC", blasCore: "Haswell", threads: 2))
    }

    func testReproducibilityReportSaysWhichDifferencesChangeBits() {
        let zen4 = RecipeDiagnostics(cpu: "AMD EPYC 9R14", cpuVectorClass: "avx512", blasCore: "Haswell", blasVersion: "0.3.21")
        let zen1 = RecipeDiagnostics(cpu: "AMD EPYC 7551", cpuVectorClass: "avx2+fma", blasCore: "Haswell", blasVersion: "0.3.27")
        func report(_ a: RecipeDiagnostics, _ b: RecipeDiagnostics, _ va: String = "0.1.0", _ vb: String = "0.1.0") -> ReproducibilityReport {
            ReproducibilityReport(recorded: a, recordedVersion: va, here: b, hereVersion: vb)
        }
        XCTAssertTrue(report(zen4, zen4).differences.isEmpty)
        let across = report(zen4, zen1)
        XCTAssertEqual(across.differences.map(\.fact), ["OpenBLAS release", "CPU vector class", "CPU model"])
        XCTAssertTrue(across.bitIdentityExpected, across.differences.map(\.line).joined(separator: "\n"))

        var native = zen1
        native.blasCore = "SkylakeX"
        let kernels = report(zen4, native)
        XCTAssertFalse(kernels.bitIdentityExpected)
        XCTAssertEqual(kernels.differences.first?.fact, "OpenBLAS kernels")
        XCTAssertTrue(kernels.differences[0].line.contains("recorded Haswell, here SkylakeX"), kernels.differences[0].line)

        var untested = zen4
        untested.blasVersion = "0.3.40"
        XCTAssertFalse(report(zen4, untested).bitIdentityExpected)
        XCTAssertFalse(report(zen4, zen4, "0.1.0", "0.2.0").bitIdentityExpected)
        // A recipe without the newer facts compares on what it has.
        XCTAssertTrue(report(RecipeDiagnostics(cpu: zen4.cpu, blasCore: "Haswell"), zen4).differences.isEmpty)
    }
}
