import Foundation
import BatchTestSupport
import SVDBatch
import TestSupport
import XCTest

/// The README's `svdbatch …` commands run as written from the repository root, after the quick start's batch,
/// with the built executable standing for the installed `svdbatch`. Commands that would render at full size
/// (a sweep without --dry-run) or need a real model are left out; everything else runs and must exit 0.
final class ReadmeCommandsTests: XCTestCase {
    /// Every command of the README's `sh` blocks that starts with `svdbatch `, continuation lines joined and
    /// comments dropped.
    static func commands() throws -> [String] {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("README.md"), encoding: .utf8)
        var commands: [String] = [], inBlock = false, pending = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") { inBlock = line == "```sh"; continue }
            guard inBlock else { continue }
            let code = line.components(separatedBy: "  # ").first!.trimmingCharacters(in: .whitespaces)
            pending += (pending.isEmpty ? "" : " ") + (code.hasSuffix("\\") ? String(code.dropLast()).trimmingCharacters(in: .whitespaces) : code)
            if code.hasSuffix("\\") { continue }
            if pending.hasPrefix("svdbatch ") { commands.append(pending) }
            pending = ""
        }
        return commands
    }

    static func isCheap(_ command: String) -> Bool {
        !(command.hasPrefix("svdbatch sweep") && !command.contains("--dry-run"))
    }

    func testTheReadmesCommandsRunAsWritten() throws {
        let commands = try Self.commands()
        XCTAssertGreaterThanOrEqual(commands.count, 8, "\(commands)")
        let binary = try SVDBatchBinary.url().path
        // A copy of the repository root's inputs, so the commands' relative paths hold and nothing is written
        // into the checkout.
        let root = try ScratchDirectory("readme")
        try FileManager.default.createSymbolicLink(at: root.path("Samples"), withDestinationURL: Fixtures.root.appendingPathComponent("Samples"))
        let quickStart = try run(binary, ["Samples/jobs.csv", "--out", "Output/", "--model", "demo"], in: root.url)
        XCTAssertEqual(quickStart.status, 0, quickStart.log)
        for command in commands where Self.isCheap(command) {
            let arguments = command.split(separator: " ").dropFirst().map(String.init)
            let result = try run(binary, arguments, in: root.url)
            XCTAssertEqual(result.status, 0, "\(command)\n\(result.log)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.path("Output/coffee-grid.mp4").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.path("lossless/cat-s42.mkv").path))
    }

    private func run(_ binary: String, _ arguments: [String], in folder: URL) throws -> (status: Int32, log: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["SVDBATCH_MODEL"] = "demo"   // as the README's reader at a terminal gets the demo model
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
