import Foundation
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
        XCTAssertEqual(model.folder.path, Fixtures.demoModel.resolvingSymlinksInPath().path)

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
        XCTAssertEqual(demo.folder.path, Fixtures.demoModel.resolvingSymlinksInPath().path)

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
}
