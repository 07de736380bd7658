import Foundation

/// Messages for people that must not mix with a command's output (stdout may be piped into a file or `jq`).
enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("svdbatch: \(message)\n".utf8))
    }
}
