import Foundation
import Logging
import SVDBatch

/// Messages for people that must not mix with a command's output (stdout may be piped into a file or `jq`), in
/// the log format every subcommand shares (`LogLine`).
enum Console {
    static func error(_ message: String) { write(.error, message) }

    static func notice(_ message: String) { write(.notice, message) }

    static func write(_ level: Logger.Level, _ message: String) {
        FileHandle.standardError.write(Data(LogLine.text(level, message).utf8))
    }

    /// Whether a person is at a terminal: standard input or standard error is one (not so under cron, in a
    /// pipeline both ways, or with both redirected).
    static var attended: Bool { isatty(STDIN_FILENO) == 1 || isatty(STDERR_FILENO) == 1 }
}
