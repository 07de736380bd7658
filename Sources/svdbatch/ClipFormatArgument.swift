import ArgumentParser
import SVDMedia

/// `--format mp4|webm|mkv` for every subcommand (case-insensitive).
extension ClipFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
