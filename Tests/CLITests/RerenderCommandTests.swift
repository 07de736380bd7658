import Foundation
import BatchTestSupport
import SVDBatch
import SVDCore
import SVDMedia
import TestSupport
import XCTest

/// `svdbatch rerender` run as the built executable (as users run it), on the demo model, tiny jobs.
final class RerenderCommandTests: XCTestCase {
    /// Runs `svdbatch ARGS` in the workspace; the status and everything it printed.
    private func svdbatch(_ ws: Workspace, _ arguments: [String]) throws -> (status: Int32, log: String) {
        let log = ws.url("log-\(UUID().uuidString).txt")
        let status = try SVDBatchBinary.run(arguments, in: ws.root, log: log)
        return (status, try String(contentsOf: log, encoding: .utf8))
    }

    /// out/cat-s42.EXT rendered by the executable from a one-row job list.
    @discardableResult
    private func render(_ ws: Workspace, format: String = "mp4", arguments: [String] = []) throws -> String {
        try ws.csv(Tiny.csv([Tiny.row(seed: "42")]))
        let run = try svdbatch(ws, ["jobs.csv", "--out", "out", "--format", format] + arguments)
        XCTAssertEqual(run.status, 0, run.log)
        return "out/cat-s42.\(format)"
    }

    func testVerifyReproducesBitExactAlsoWithAnotherThreadCountAndWritesOnlyWithOut() throws {
        let ws = try Workspace()
        let clip = try render(ws)
        let before = ws.files(in: "out")

        let verify = try svdbatch(ws, ["rerender", clip, "--verify"])
        XCTAssertEqual(verify.status, 0, verify.log)
        XCTAssertTrue(verify.log.contains("reproduced: bit-exact"), verify.log)
        let oneThread = try svdbatch(ws, ["rerender", clip, "--verify", "--threads", "1"])
        XCTAssertEqual(oneThread.status, 0, oneThread.log)
        XCTAssertTrue(oneThread.log.contains("reproduced: bit-exact") && oneThread.log.contains("1 thread,"), oneThread.log)
        XCTAssertEqual(ws.files(in: "out"), before, "--verify without --out writes nothing")

        let copy = try svdbatch(ws, ["rerender", clip, "--verify", "--out", "copy"])
        XCTAssertEqual(copy.status, 0, copy.log)
        XCTAssertEqual(try ws.framesSHA("copy/cat-s42.mp4"), try ws.framesSHA(clip))
        XCTAssertEqual(try ws.recipe("copy/cat-s42.mp4").jobKey, try ws.recipe(clip).jobKey)
        XCTAssertNil(try ws.recipe("copy/cat-s42.mp4").derivedFrom, "the same job, not a variation")
        XCTAssertEqual(try ws.recipe("copy/cat-s42.mp4").encoder, try ws.recipe(clip).encoder, "the recorded encoder settings")

        // The source clip is never the destination.
        let ontoItself = try svdbatch(ws, ["rerender", clip])
        XCTAssertEqual(ontoItself.status, 2, ontoItself.log)
        XCTAssertTrue(ontoItself.log.contains("is the clip being re-rendered"), ontoItself.log)
        let forced = try svdbatch(ws, ["rerender", clip, "--force"])
        XCTAssertEqual(forced.status, 2, forced.log)
    }

    /// A clip made from a single-file checkpoint re-renders from the recorded file, and from `--model` after the
    /// file moved; another file with the same name is refused by its fingerprint.
    func testASingleFileModelIsFoundAgainByPathAndByFingerprint() throws {
        let ws = try Workspace()
        let fixture = Fixtures.path("single-file/demo-svd-xt.fp16.safetensors")
        try FileManager.default.createDirectory(at: ws.url("models"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture, toPath: ws.url("models/demo-svd-xt.fp16.safetensors").path)
        let clip = try render(ws, arguments: ["--model", "models/demo-svd-xt.fp16.safetensors"])
        let recorded = try svdbatch(ws, ["rerender", clip, "--verify"])
        XCTAssertEqual(recorded.status, 0, recorded.log)
        XCTAssertTrue(recorded.log.contains("reproduced: bit-exact"), recorded.log)

        try FileManager.default.moveItem(at: ws.url("models"), to: ws.url("moved"))
        let moved = try svdbatch(ws, ["rerender", clip, "--verify", "--model", "moved/demo-svd-xt.fp16.safetensors"])
        XCTAssertEqual(moved.status, 0, moved.log)
        XCTAssertTrue(moved.log.contains("reproduced: bit-exact"), moved.log)

        // Same name, other weights (one tensor changed): not the recorded model.
        var writer = SafeTensorsWriter()
        let source = try SafeTensorsFile(path: fixture)
        try writer.copyAll(from: source) { $0 == "model.diffusion_model.out.2.bias" ? nil : $0 }
        writer.addF16("model.diffusion_model.out.2.bias", shape: [4], values: [0.5, 0.5, 0.5, 0.5])
        try FileManager.default.createDirectory(at: ws.url("models"), withIntermediateDirectories: true)
        try writer.write(to: ws.url("models/demo-svd-xt.fp16.safetensors"))
        let other = try svdbatch(ws, ["rerender", clip, "--verify", "--model", "models/demo-svd-xt.fp16.safetensors"])
        XCTAssertEqual(other.status, 2, other.log)
        XCTAssertTrue(other.log.contains("fingerprint differs"), other.log)
    }

    /// A 128×128 clip of 14 frames (the sample job that once differed between --threads 1 and 2, when the
    /// streamed decoder grouped frames by worker count) is the same with 1 and with 3 threads.
    func testFramesAreIdenticalForOneAndThreeThreadsAtSampleSize() throws {
        let ws = try Workspace()
        try ws.csv("image,seed,width,height,num_frames,num_inference_steps,format\ncat.png,-3,128,128,14,1,mkv\n")
        for threads in ["1", "3"] {
            let run = try svdbatch(ws, ["jobs.csv", "--out", "t\(threads)", "--threads", threads])
            XCTAssertEqual(run.status, 0, run.log)
        }
        XCTAssertEqual(try ws.framesSHA("t1/cat-s-3.mkv"), try ws.framesSHA("t3/cat-s-3.mkv"))
    }

    func testTamperedRecipesFailVerifyWithPerFrameFigures() throws {
        let ws = try Workspace()
        for format in [ClipFormat.mkv, .mp4] {
            let clip = try render(ws, format: format.rawValue)
            // A copy of the clip whose recipe claims another motion_bucket_id (its job_key left as it was).
            let decoded = try ClipReader.decode(ws.url(clip)).frames
            var recipe = try ws.recipe(clip)
            recipe.parameters.video.motionBucketId = 128
            // The mp4's recipe also claims another machine, whose OpenBLAS ran other kernels.
            if format == .mp4 {
                recipe.diagnostics = RecipeDiagnostics(cpu: "AMD EPYC 7551 32-Core Processor", cpuVectorClass: "avx2+fma",
                                                       blasCore: "Zen", blasVersion: BLAS.version)
            }
            let tampered = "tampered.\(format.rawValue)"
            try ClipWriter.write(decoded, fps: 7, settings: recipe.encoder, comment: try recipe.json(), to: ws.url(tampered))

            let verify = try svdbatch(ws, ["rerender", tampered, "--verify"])
            XCTAssertEqual(verify.status, 1, verify.log)
            XCTAssertTrue(verify.log.contains("not reproduced"), verify.log)
            XCTAssertTrue(verify.log.contains("job_key does not match its contents"), verify.log)
            XCTAssertTrue(verify.log.contains("max |Δ|") && verify.log.contains("PSNR"), verify.log)
            let rows = verify.log.split(separator: "\n").filter { $0.range(of: #"^\s+[0-2]\s+\d+\s+\d+\.\d\d"#, options: .regularExpression) != nil }
            XCTAssertEqual(rows.count, 3, "one line of figures per frame:\n\(verify.log)")
            XCTAssertTrue(verify.log.contains(format == .mkv ? "lossless" : "lossy"), verify.log)
            if format == .mp4 { XCTAssertTrue(verify.log.contains("re-encoded"), verify.log) }
            if format == .mkv {
                XCTAssertTrue(verify.log.contains("nothing about the machine explains the difference"), verify.log)
            } else {
                XCTAssertTrue(verify.log.contains("OpenBLAS kernels: recorded Zen, here \(BLAS.coreName): explains a difference"), verify.log)
                XCTAssertTrue(verify.log.contains("CPU model: recorded 'AMD EPYC 7551 32-Core Processor'"), verify.log)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("cat-s42.\(format.rawValue)").path))
        }
    }

    func testAMovedImageIsFoundByItsPixelsAndALosslesslyResavedOneIsAccepted() throws {
        let ws = try Workspace()
        let clip = try render(ws)
        let pixels = try ImageInput.load(path: ws.url("cat.png").path)
        try FileManager.default.createDirectory(at: ws.url("photos/2024"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: ws.url("cat.png"), to: ws.url("photos/2024/IMG_0042.png"))
        try FileManager.default.copyItem(at: ws.url("coffee.png"), to: ws.url("photos/coffee.png"))

        let lost = try svdbatch(ws, ["rerender", clip, "--verify"])
        XCTAssertEqual(lost.status, 2, lost.log)
        for place in ["the recorded path \(ws.url("cat.png").path): no such file", "from the clip's folder", "--images-dir: not given"] {
            XCTAssertTrue(lost.log.contains(place), "\(place) in:\n\(lost.log)")
        }
        let found = try svdbatch(ws, ["rerender", clip, "--verify", "--images-dir", "photos"])
        XCTAssertEqual(found.status, 0, found.log)
        XCTAssertTrue(found.log.contains("reproduced: bit-exact") && found.log.contains("IMG_0042.png"), found.log)

        // Re-saved with other compression: other bytes, same pixels.
        try PNGWriter.write(pixels, to: ws.url("cat.png").path, compressionLevel: 0)
        XCTAssertNotEqual(try Digests.sha256Hex(fileAt: ws.url("cat.png")), try ws.recipe(clip).input.fileSHA256)
        let resaved = try svdbatch(ws, ["rerender", clip, "--verify"])
        XCTAssertEqual(resaved.status, 0, resaved.log)
        XCTAssertTrue(resaved.log.contains("reproduced: bit-exact") && resaved.log.contains("not byte-identical"), resaved.log)
    }

    func testADifferentImageIsRefusedWithExit2() throws {
        let ws = try Workspace()
        let clip = try render(ws)
        try FileManager.default.removeItem(at: ws.url("cat.png"))
        try FileManager.default.copyItem(at: ws.url("coffee.png"), to: ws.url("cat.png"))

        let replaced = try svdbatch(ws, ["rerender", clip, "--verify"])
        XCTAssertEqual(replaced.status, 2, replaced.log)
        XCTAssertTrue(replaced.log.contains("no image with the recorded pixels") && replaced.log.contains("a different image"), replaced.log)
        let explicit = try svdbatch(ws, ["rerender", clip, "--image", "coffee.png", "--out", "other"])
        XCTAssertEqual(explicit.status, 2, explicit.log)
        XCTAssertTrue(explicit.log.contains("--image \(ws.url("coffee.png").path) is not the image this clip was made from"), explicit.log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.url("other/cat-s42.mp4").path))
    }

    func testADifferentModelIsRefusedNamingTheDifferingFilesAndTheRecordedOneIsFoundByFingerprint() throws {
        let ws = try Workspace()
        try FileManager.default.copyItem(at: Fixtures.demoModel, to: ws.url("model"))
        let clip = try render(ws, arguments: ["--model", "model"])

        // The recorded folder is gone; the bundled demo model has the same files, so it is the same model.
        try FileManager.default.moveItem(at: ws.url("model"), to: ws.url("changed"))
        let moved = try svdbatch(ws, ["rerender", clip, "--verify"])
        XCTAssertEqual(moved.status, 0, moved.log)
        XCTAssertTrue(moved.log.contains("reproduced: bit-exact") && moved.log.contains("Samples/demo-model"), moved.log)

        // One weight file changed by one byte.
        let weights = ws.url("changed/vae/diffusion_pytorch_model.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: weights)
        let changed = try svdbatch(ws, ["rerender", clip, "--verify", "--model", "changed"])
        XCTAssertEqual(changed.status, 2, changed.log)
        XCTAssertTrue(changed.log.contains("no model matching the recipe's fingerprint"), changed.log)
        XCTAssertTrue(changed.log.contains("fingerprint differs: vae/diffusion_pytorch_model.safetensors"), changed.log)
        XCTAssertFalse(changed.log.contains("unet/diffusion_pytorch_model.safetensors ("), "only the differing file is named:\n\(changed.log)")
    }

    func testSetRendersANamedVariationThatMatchesTheSameCSVRowAndNeverOverwrites() throws {
        let ws = try Workspace()
        let clip = try render(ws)
        let original = try ws.recipe(clip)

        let variation = try svdbatch(ws, ["rerender", clip, "--set", "motion_bucket_id=180", "--set", "noise_aug_strength=0.1"])
        XCTAssertEqual(variation.status, 0, variation.log)
        let name = "out/cat-s42-motion_bucket_id180-noise_aug_strength0.1.mp4"
        let recipe = try ws.recipe(name)
        XCTAssertEqual(recipe.derivedFrom, original.framesSHA256)
        XCTAssertEqual(recipe.changes, ["motion_bucket_id": "180", "noise_aug_strength": "0.1"])
        XCTAssertEqual(recipe.parameters.video.motionBucketId, 180)
        XCTAssertEqual(recipe.parameters.video.seed, original.parameters.video.seed)
        XCTAssertEqual(recipe.input.name, "cat.png")
        XCTAssertNotEqual(recipe.framesSHA256, original.framesSHA256)

        // Exactly what a CSV row with those values renders.
        try ws.csv("row.csv", "image,seed,width,height,num_frames,num_inference_steps,motion_bucket_id,noise_aug_strength\ncat.png,42,64,64,3,2,180,0.1\n")
        XCTAssertEqual(try svdbatch(ws, ["row.csv", "--out", "row"]).status, 0)
        XCTAssertEqual(try ws.framesSHA("row/cat-s42.mp4"), recipe.framesSHA256)
        XCTAssertEqual(try ws.recipe("row/cat-s42.mp4").jobKey, recipe.jobKey)

        // Again: already there, nothing rendered; a different file in the way is kept unless --force.
        let bytes = try Data(contentsOf: ws.url(name))
        let again = try svdbatch(ws, ["rerender", clip, "--set", "motion_bucket_id=180", "--set", "noise_aug_strength=0.1"])
        XCTAssertEqual(again.status, 0, again.log)
        XCTAssertTrue(again.log.contains("already this job's clip"), again.log)
        XCTAssertEqual(try Data(contentsOf: ws.url(name)), bytes)
        let mine = ws.url("out/cat-s42-fps12.mp4")
        try Data("not a clip".utf8).write(to: mine)
        let blocked = try svdbatch(ws, ["rerender", clip, "--set", "fps=12"])
        XCTAssertEqual(blocked.status, 2, blocked.log)
        XCTAssertTrue(blocked.log.contains("is in the way") && blocked.log.contains("--force"), blocked.log)
        XCTAssertEqual(try String(contentsOf: mine, encoding: .utf8), "not a clip")
        let forced = try svdbatch(ws, ["rerender", clip, "--set", "fps=12", "--force"])
        XCTAssertEqual(forced.status, 0, forced.log)
        XCTAssertEqual(try ws.recipe("out/cat-s42-fps12.mp4").parameters.video.fps, 12)

        // --out puts it elsewhere; bad values are refused like CSV cells, naming the option.
        XCTAssertEqual(try svdbatch(ws, ["rerender", clip, "--set", "seed=7", "--out", "elsewhere"]).status, 0)
        XCTAssertEqual(try ws.recipe("elsewhere/cat-s42-seed7.mp4").changes, ["seed": "7"])
        for (arguments, message) in [
            (["--set", "width=100"], "--set width=100: width 100 must be a multiple of 8"),
            (["--set", "image=coffee.png"], "--set image=coffee.png: image cannot be given with --set"),
            (["--set", "colour=red"], "unknown key 'colour'"),
            (["--set", "fps=3", "--verify"], "cannot be combined with --set"),
            (["--set", "format=mkv", "--format", "webm"], "give one of them"),
        ] {
            let run = try svdbatch(ws, ["rerender", clip] + arguments)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.log)")
            XCTAssertTrue(run.log.contains(message), "\(message) in:\n\(run.log)")
        }
    }

    func testFormatChangesOnlyTheContainer() throws {
        let ws = try Workspace()
        let clip = try render(ws)
        let run = try svdbatch(ws, ["rerender", clip, "--format", "mkv", "--out", "lossless"])
        XCTAssertEqual(run.status, 0, run.log)
        let recipe = try ws.recipe("lossless/cat-s42.mkv")
        XCTAssertEqual(recipe.framesSHA256, try ws.framesSHA(clip), "the same frames")
        XCTAssertEqual(recipe.changes, ["format": "mkv"])
        XCTAssertEqual(recipe.encoder.codec, "ffv1")
        XCTAssertEqual(Digests.sha256Hex(frames: try ClipReader.decode(ws.url("lossless/cat-s42.mkv")).frames), recipe.framesSHA256)
        let verify = try svdbatch(ws, ["rerender", "lossless/cat-s42.mkv", "--verify"])
        XCTAssertEqual(verify.status, 0, verify.log)
    }

    func testHelpExplainsEveryOption() throws {
        let ws = try Workspace()
        let help = try svdbatch(ws, ["rerender", "--help"])
        XCTAssertEqual(help.status, 0)
        for option in ["--out", "--image", "--images-dir", "--model", "--set", "--format", "--threads", "--force", "--verify", "Example"] {
            XCTAssertTrue(help.log.contains(option), option)
        }
        let notAClip = try svdbatch(ws, ["rerender", "cat.png", "--verify"])
        XCTAssertEqual(notAClip.status, 2, notAClip.log)
    }
}
