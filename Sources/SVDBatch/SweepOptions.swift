import Foundation
import SVDMedia

/// Everything `svdbatch sweep` takes, independent of the command-line parser. Option values are kept as
/// typed, so that every message can quote the option and value the user wrote.
public struct SweepOptions: Sendable, CommandOptions {
    /// The input image as the user named it (relative to `workingDirectory`).
    public var imagePath: String
    /// `--seeds 1,2,3`: one grid column per seed.
    public var seeds: String
    /// `--vary KEY=V1,V2,…`, each: one grid row per combination of their values.
    public var vary: [String] = []
    /// `--set KEY=VALUE`, each: the same value in every cell.
    public var set: [String] = []
    public var outputDirectory: String = "Output"
    /// `--model`; nil: `SVDBATCH_MODEL`, else the bundled demo model.
    public var model: String?
    /// `--format`; nil: mp4.
    public var format: ClipFormat?
    public var settings: RunSettings

    public init(imagePath: String, seeds: String,
                workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.imagePath = imagePath
        self.seeds = seeds
        settings = RunSettings(workingDirectory: workingDirectory, environment: environment)
    }
}

/// Why a sweep cannot start (exit status 2). Every message names the option and the value at fault.
public struct SweepUsageError: Error, CustomStringConvertible, Equatable {
    public let messages: [String]

    public init(_ messages: [String]) { self.messages = messages }

    public var description: String { messages.joined(separator: "\n") }
}
