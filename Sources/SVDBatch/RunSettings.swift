import Foundation
import SVDCore

/// What every rendering command (`run`, `sweep`, `rerender`) takes besides its own options. The commands'
/// option types reach these fields directly (`options.force`) through dynamic member lookup.
public struct RunSettings: Sendable {
    /// Engine worker threads; nil keeps the current count (the machine's cores).
    public var threads: Int?
    /// Replace what is in the way (each command says what that covers).
    public var force = false
    /// Errors (and a command's results) only.
    public var quiet = false
    /// Print the plan, render nothing.
    public var dryRun = false
    /// Whether someone is at a terminal: only then may a missing model fall back to the demo model.
    public var attended = true
    /// Relative paths are taken from here.
    public var workingDirectory: URL
    public var environment: [String: String]

    public init(workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.workingDirectory = workingDirectory
        self.environment = environment
    }

    func absolute(_ path: String) -> URL {
        (path.hasPrefix("/") ? URL(fileURLWithPath: path) : workingDirectory.appendingPathComponent(path)).standardizedFileURL
    }
}

/// A command's options: its own fields plus the shared `RunSettings`, whose fields read and write as the
/// command's own (`options.force`).
@dynamicMemberLookup
public protocol CommandOptions {
    var settings: RunSettings { get set }
}

extension CommandOptions {
    public subscript<T>(dynamicMember path: WritableKeyPath<RunSettings, T>) -> T {
        get { settings[keyPath: path] }
        set { settings[keyPath: path] = newValue }
    }

    func absolute(_ path: String) -> URL { settings.absolute(path) }

    /// The reporter for `console`, with the engine's thread count set: the first thing every command does.
    func start(_ console: BatchConsole) -> BatchReporter {
        if let threads = settings.threads { Parallel.workerCount = threads }
        return RunSession.reporter(console, quiet: settings.quiet)
    }
}
