import ArgumentParser
import Foundation
import SVDBatch
import SVDMedia

/// The `svdbatch` command line. Each subcommand lives in its own file; add new ones to `subcommands`.
@main
struct SVDBatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svdbatch",
        abstract: "Render Stable Video Diffusion clips from images on the CPU, with the full recipe inside each clip.",
        version: Recipe.toolVersion,
        subcommands: [RunCommand.self, InspectCommand.self, BenchCommand.self, GridCommand.self, RerenderCommand.self, SweepCommand.self],
        defaultSubcommand: RunCommand.self
    )

    /// As ArgumentParser's, except that usage errors exit with status 2 (its default is 64), the status the
    /// batch front end documents for scripts and schedulers, and that errors are log lines like every other
    /// message (`… error: …`), the usage text after them.
    static func main() {
        ProcessSignals.install()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            // Help, version and plain exits print what they print.
            guard code != .success, !(error is ExitCode) else { exit(withError: error) }
            var lines = fullMessage(for: error).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let first = lines.isEmpty ? "\(error)" : lines.removeFirst()
            Console.error(first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first)
            let rest = lines.joined(separator: "\n").trimmingCharacters(in: .newlines)
            if !rest.isEmpty { FileHandle.standardError.write(Data((rest + "\n").utf8)) }
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}
