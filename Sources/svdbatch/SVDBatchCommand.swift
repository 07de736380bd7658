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
    /// batch front end documents for scripts and schedulers.
    static func main() {
        ProcessSignals.install()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}
