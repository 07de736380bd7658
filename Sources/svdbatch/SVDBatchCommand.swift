import ArgumentParser
import SVDMedia

/// The `svdbatch` command line. Each subcommand lives in its own file; add new ones to `subcommands`.
@main
struct SVDBatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svdbatch",
        abstract: "Render Stable Video Diffusion clips from images on the CPU, with the full recipe inside each clip.",
        version: Recipe.toolVersion,
        subcommands: [InspectCommand.self]
    )
}
