import Foundation
import SVDMedia
import SVDModels

/// Everything `svdbatch run` takes, independent of the command-line parser.
public struct BatchOptions: Sendable {
    /// The job list as the user named it.
    public var csvPath: String
    public var outputDirectory: String = "Output"
    /// `--model`: a diffusers folder or a Hugging Face repository id; nil for the row's or the default model.
    public var model: String?
    public var variant: WeightVariant?
    public var format: ClipFormat = .mp4
    public var crf: Int?
    public var saveFrames = false
    /// Engine worker threads; nil keeps the current count (the machine's cores).
    public var threads: Int?
    public var shard: Shard?
    public var force = false
    public var dryRun = false
    public var quiet = false
    /// Whether someone is at a terminal: only then may a missing model fall back to the demo model.
    public var attended = true
    /// Relative paths (the CSV, `--out`, `--model`, `SVDBATCH_MODEL`) are taken from here.
    public var workingDirectory: URL
    public var environment: [String: String]

    public init(csvPath: String, workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.csvPath = csvPath
        self.workingDirectory = workingDirectory
        self.environment = environment
    }

    func absolute(_ path: String) -> URL {
        (path.hasPrefix("/") ? URL(fileURLWithPath: path) : workingDirectory.appendingPathComponent(path)).standardizedFileURL
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
