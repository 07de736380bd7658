import Foundation
import SVDMedia
import SVDModels

/// Everything `svdbatch run` takes, independent of the command-line parser.
public struct BatchOptions: Sendable, CommandOptions {
    /// The job list as the user named it.
    public var csvPath: String
    public var outputDirectory: String = "Output"
    /// `--model`: a diffusers folder or a Hugging Face repository id; nil for the row's or the default model.
    public var model: String?
    public var variant: WeightVariant?
    public var format: ClipFormat = .mp4
    public var crf: Int?
    public var saveFrames = false
    public var shard: Shard?
    /// Threads, force, quiet, attended; relative paths (the CSV, `--out`, `--model`, `SVDBATCH_MODEL`) are
    /// taken from its working directory.
    public var settings: RunSettings

    public init(csvPath: String, workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.csvPath = csvPath
        settings = RunSettings(workingDirectory: workingDirectory, environment: environment)
    }
}

/// The run's exit status, as documented for scripts and schedulers.
public enum ExitStatus: Int32, Sendable {
    /// Every job rendered or was up to date.
    case success = 0
    /// A row was invalid, or a job failed or met a conflict.
    case jobsFailed = 1
    /// Usage or fatal problem: unreadable job list, unknown column, default model missing, output folder unusable.
    case fatal = 2
    /// Another run holds this output folder and shard (EX_TEMPFAIL: try again later).
    case locked = 75
    /// Stopped by SIGINT (128 + 2).
    case interrupted = 130
    /// Stopped by SIGTERM (128 + 15).
    case terminated = 143

    static func stopped(by signal: Int32) -> ExitStatus { signal == SIGTERM ? .terminated : .interrupted }
}
