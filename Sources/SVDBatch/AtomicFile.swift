import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum AtomicWriteError: Error, CustomStringConvertible, Equatable {
    case failed(path: String, step: String, reason: String)

    public var description: String {
        switch self {
        case let .failed(path, step, reason): return "\(path): \(step) failed: \(reason)"
        }
    }
}

/// Whole-file writes that never leave a partial file under the final name: the bytes go to a hidden
/// temporary file in the same folder (`.NAME.tmp-PID`, the pattern the clip writer uses too), are flushed to
/// disk, and the file is renamed over the final name.
public enum AtomicFile {
    public static func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    }

    public static func write(_ data: Data, to url: URL) throws {
        let temp = temporaryURL(for: url)
        func failure(_ step: String) -> AtomicWriteError {
            .failed(path: url.path, step: step, reason: String(cString: strerror(errno)))
        }
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("creating \(temp.lastPathComponent)") }
        var ok = false
        defer {
            if !ok { unlink(temp.path) }
        }
        let written = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        guard written else { let error = failure("writing"); close(fd); throw error }
        guard fsync(fd) == 0 else { let error = failure("flushing"); close(fd); throw error }
        guard close(fd) == 0 else { throw failure("closing") }
        guard rename(temp.path, url.path) == 0 else { throw failure("renaming \(temp.lastPathComponent)") }
        ok = true
        syncDirectory(of: url)
    }

    /// Makes a rename durable.
    static func syncDirectory(of url: URL) {
        let fd = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Whether `fileName` is a temporary file of `target` left by any process (`.TARGET.tmp-PID`).
    public static func isTemporary(_ fileName: String, of target: String) -> Bool {
        let prefix = ".\(target).tmp-"
        guard fileName.hasPrefix(prefix) else { return false }
        let pid = fileName.dropFirst(prefix.count)
        return !pid.isEmpty && pid.allSatisfy(\.isNumber)
    }
}
