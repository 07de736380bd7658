import Foundation
import SVDBatch
import SVDMedia
import TestSupport
import XCTest

/// A scratch folder with the two CC0 fixture photos as cat.png and coffee.png, removed after the test.
public final class Workspace {
    public let root: URL

    public init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("svdbatch-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.casePath("basic", "input.png"), toPath: url("cat.png").path)
        try FileManager.default.copyItem(atPath: Fixtures.casePath("resize-chunked", "input.png"), toPath: url("coffee.png").path)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    public func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Writes a job list named `name`.
    public func csv(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: url(name))
    }

    /// Writes jobs.csv.
    public func csv(_ text: String) throws { try csv("jobs.csv", text) }

    public func files(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url(folder).path)) ?? []).sorted()
    }

    public func visibleFiles(in folder: String) -> [String] { files(in: folder).filter { !$0.hasPrefix(".") } }
}

/// Tiny jobs: the demo model renders one in well under a second on 2 cores.
public enum Tiny {
    public static let columns = "image,seed,name,width,height,num_frames,num_inference_steps"
    public static func row(_ image: String = "cat.png", seed: String, name: String = "", steps: Int = 2, frames: Int = 3) -> String {
        "\(image),\(seed),\(name),64,64,\(frames),\(steps)"
    }
    public static func csv(_ rows: [String]) -> String { ([columns] + rows).joined(separator: "\n") + "\n" }
}

public struct RunOutput {
    public let result: BatchResult
    public let messages: String
    public let output: String
    public var status: ExitStatus { result.status }
}

extension Workspace {
    /// Runs the batch in-process with the demo model, logging into buffers.
    public func run(_ csv: String = "jobs.csv", out: String = "out", configure: (inout BatchOptions) -> Void = { _ in }) -> RunOutput {
        var options = BatchOptions(csvPath: url(csv).path, workingDirectory: root, environment: Self.environment)
        options.outputDirectory = url(out).path
        configure(&options)
        let messages = BufferSink(), output = BufferSink()
        let result = Batch.run(options, console: BatchConsole(output: output, messages: messages, messagesAreTerminal: false))
        return RunOutput(result: result, messages: messages.text, output: output.text)
    }

    /// The environment with the demo model as the default model, as a script names it (tests run without a
    /// terminal, where a missing model is an error).
    public static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["SVDBATCH_MODEL"] = ModelResolver.demoKeyword
        env["XDG_CACHE_HOME"] = cacheFolder.path
        return env
    }

    /// This test process's own cache folder (speed figures, digests), so tests never touch the user's.
    public static let cacheFolder = FileManager.default.temporaryDirectory.appendingPathComponent("svdbatch-test-cache-\(getpid())")

    public func recipe(_ relative: String) throws -> Recipe {
        let probe = try ClipReader.probe(url(relative))
        return try Recipe.decode(comment: probe.comment, file: relative)
    }

    public func framesSHA(_ relative: String) throws -> String { try recipe(relative).framesSHA256 }

    public func manifest(_ out: String = "out", shard: Shard? = nil) throws -> [ManifestEntry] {
        try Manifest.read(url(out).appendingPathComponent(Shard.manifestFileName(shard)))
    }
}

/// The `svdbatch` executable built next to this test bundle, run as a separate process.
public enum SVDBatchBinary {
    public static func url() throws -> URL {
        let bundleFolder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for folder in [bundleFolder, Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()] {
            let candidate = folder.appendingPathComponent("svdbatch")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw XCTSkip("the svdbatch executable is not next to the test bundle (\(bundleFolder.path)); build it first: swift build")
    }

    /// Starts `svdbatch ARGS` in `directory`; output goes to `log`.
    public static func start(_ arguments: [String], in directory: URL, log: URL) throws -> Process {
        let process = Process()
        process.executableURL = try url()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = Workspace.environment
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    public static func run(_ arguments: [String], in directory: URL, log: URL) throws -> Int32 {
        let process = try start(arguments, in: directory, log: log)
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Polls until `condition` holds or `timeout` passes.
public func waitFor(_ timeout: TimeInterval = 120, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
