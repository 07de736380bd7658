import Foundation
import BatchTestSupport
import SVDBatch
import TestSupport
import XCTest

final class ModelResolverTests: XCTestCase {
    /// A Hugging Face cache holding the demo model as acme/tiny-svd, snapshot files linked as the Hub does.
    private func makeHubCache(in ws: Workspace, hub: String, revision: String = "0123abcd") throws -> URL {
        let repo = ws.url(hub).appendingPathComponent("models--acme--tiny-svd")
        let snapshot = repo.appendingPathComponent("snapshots/\(revision)")
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: snapshot.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: snapshot, withDestinationURL: Fixtures.demoModel)
        try Data("\(revision)\n".utf8).write(to: repo.appendingPathComponent("refs/main"))
        return snapshot
    }

    func testRepositoryIDsResolveOfflineInTheHubCache() throws {
        let ws = try Workspace()
        _ = try makeHubCache(in: ws, hub: "hubcache")
        let viaHubCache = ModelResolver(environment: ["HF_HUB_CACHE": ws.url("hubcache").path, "HF_HOME": "/nowhere"])
        let model = try viaHubCache.resolve("acme/tiny-svd", relativeTo: ws.root)
        XCTAssertEqual(model.name, "acme/tiny-svd")
        XCTAssertEqual(model.source, .huggingFaceCache)
        XCTAssertEqual(model.location.path, Fixtures.demoModel.resolvingSymlinksInPath().path)

        _ = try makeHubCache(in: ws, hub: "hfhome/hub")
        let viaHome = ModelResolver(environment: ["HF_HOME": ws.url("hfhome").path])
        XCTAssertEqual(try viaHome.resolve("acme/tiny-svd", relativeTo: ws.root).source, .huggingFaceCache)

        _ = try makeHubCache(in: ws, hub: "home/.cache/huggingface/hub")
        let viaUserHome = ModelResolver(environment: ["HOME": ws.url("home").path])
        XCTAssertEqual(try viaUserHome.resolve("acme/tiny-svd", relativeTo: ws.root).source, .huggingFaceCache)

        XCTAssertThrowsError(try viaHubCache.resolve("acme/other", relativeTo: ws.root)) { error in
            XCTAssertTrue("\(error)".contains("models--acme--other"), "\(error)")
        }
        try FileManager.default.removeItem(at: ws.url("hubcache/models--acme--tiny-svd/refs/main"))
        XCTAssertThrowsError(try viaHubCache.resolve("acme/tiny-svd", relativeTo: ws.root)) { error in
            XCTAssertTrue("\(error)".contains("refs/main"), "\(error)")
        }
    }

    func testFoldersEnvironmentAndDemoModel() throws {
        let ws = try Workspace()
        let resolver = ModelResolver(environment: [:])
        let relative = try resolver.resolve("Samples/demo-model", relativeTo: Fixtures.root)
        XCTAssertEqual(relative.source, .folder)
        XCTAssertEqual(relative.name, "Samples/demo-model")

        let demo = try resolver.resolveDefault(workingDirectory: ws.root)
        XCTAssertEqual(demo.source, .demo)
        XCTAssertEqual(demo.location.path, Fixtures.demoModel.resolvingSymlinksInPath().path)

        let configured = ModelResolver(environment: ["SVDBATCH_MODEL": Fixtures.demoModel.path])
        XCTAssertEqual(try configured.resolveDefault(workingDirectory: ws.root).source, .environment)
        let broken = ModelResolver(environment: ["SVDBATCH_MODEL": "missing-model"])
        XCTAssertThrowsError(try broken.resolveDefault(workingDirectory: ws.root))
    }

    func testAJobListCanNameAModelByRepositoryID() throws {
        let ws = try Workspace()
        _ = try makeHubCache(in: ws, hub: "hub")
        try ws.csv(Tiny.columns + ",model\n" + Tiny.row(seed: "3") + ",acme/tiny-svd\n")
        let run = ws.run {
            $0.environment["HF_HUB_CACHE"] = ws.url("hub").path
            $0.dryRun = true
        }
        XCTAssertEqual(run.status, .success, run.messages)
        XCTAssertEqual(run.result.plan?.jobs.first?.model.name, "acme/tiny-svd")
        XCTAssertFalse(run.messages.contains("demo model"), "the demo model is not used, so it is not announced")
    }

    /// Under cron nobody sees the demo model's notice: without a model an unattended run is an error that says
    /// how to name one; `demo` names the demo model on purpose.
    func testUnattendedRunsNeverFallBackToTheDemoModel() throws {
        let ws = try Workspace()
        let unattended = ModelResolver(environment: [:], attended: false)
        XCTAssertThrowsError(try unattended.resolveDefault(workingDirectory: ws.root)) { error in
            XCTAssertEqual(error as? ModelResolutionError, .unattendedWithoutModel)
            XCTAssertTrue("\(error)".contains("--model DIR|REPO_ID") && "\(error)".contains("SVDBATCH_MODEL"), "\(error)")
        }
        XCTAssertEqual(try unattended.resolve("demo", relativeTo: ws.root).source, .demo)
        XCTAssertEqual(try ModelResolver(environment: ["SVDBATCH_MODEL": "demo"], attended: false)
                        .resolveDefault(workingDirectory: ws.root).source, .demo)

        try ws.csv(Tiny.csv([Tiny.row(seed: "1")]))
        var environment = Workspace.environment
        environment.removeValue(forKey: "SVDBATCH_MODEL")
        let cron = ws.run { $0.environment = environment; $0.attended = false }
        XCTAssertEqual(cron.status, .fatal, cron.messages)
        XCTAssertTrue(cron.messages.contains("never falls back to the bundled demo model"), cron.messages)
        XCTAssertEqual(ws.visibleFiles(in: "out").filter { $0.hasSuffix(".mp4") }, [])
        let named = ws.run { $0.environment = environment; $0.attended = false; $0.model = "demo" }
        XCTAssertEqual(named.status, .success, named.messages)
        XCTAssertTrue(named.messages.contains("using the bundled demo model"), named.messages)
    }

    /// A repository id missing from the cache says how to fetch just what svdbatch loads, and that Stability's
    /// models need their licence accepted first.
    func testAMissingRepositoryIdSaysHowToFetchIt() throws {
        let ws = try Workspace()
        let resolver = ModelResolver(environment: ["HF_HUB_CACHE": ws.url("hub").path])
        let repo = "stabilityai/stable-video-diffusion-img2vid-xt"
        XCTAssertThrowsError(try resolver.resolve(repo, relativeTo: ws.root)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("huggingface-cli download \(repo) --include 'model_index.json' '*config.json' '*.fp16.safetensors'"), text)
            XCTAssertTrue(text.contains("accept the licence on https://huggingface.co/\(repo)"), text)
            XCTAssertTrue(text.contains(ws.url("hub").path), text)
        }
        // The patterns take exactly the files a diffusers SVD folder needs, not the single-file checkpoints.
        let repoFiles = ["model_index.json", "svd_xt.safetensors", "svd_xt_image_decoder.safetensors",
                         "feature_extractor/preprocessor_config.json", "image_encoder/config.json",
                         "image_encoder/model.fp16.safetensors", "image_encoder/model.safetensors",
                         "scheduler/scheduler_config.json", "unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors",
                         "unet/diffusion_pytorch_model.safetensors", "vae/config.json",
                         "vae/diffusion_pytorch_model.fp16.safetensors", "README.md"]
        let taken = repoFiles.filter { file in ModelDownloadHelp.includePatterns.contains { fnmatch($0, file, 0) == 0 } }
        XCTAssertEqual(taken, ["model_index.json", "feature_extractor/preprocessor_config.json", "image_encoder/config.json",
                               "image_encoder/model.fp16.safetensors", "scheduler/scheduler_config.json", "unet/config.json",
                               "unet/diffusion_pytorch_model.fp16.safetensors", "vae/config.json",
                               "vae/diffusion_pytorch_model.fp16.safetensors"])
    }
}
