import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum FileWriteError: Error, CustomStringConvertible, Equatable {
    case failed(path: String, step: String, reason: String)
    case alreadyExists(path: String)
    case symbolicLink(path: String)

    public var description: String {
        switch self {
        case let .failed(path, step, reason): return "\(path): \(step) failed: \(reason)"
        case let .alreadyExists(path): return "\(path) already exists"
        case let .symbolicLink(path):
            return "\(path) is a symbolic link: svdbatch never writes through links in a folder it writes to (someone who can write to the folder could point it at any file); remove the link"
        }
    }

    /// The failure for `errno` after `step` on `path`; ELOOP (from O_NOFOLLOW) names the link.
    public static func current(path: String, step: String) -> FileWriteError {
        let code = errno
        if code == ELOOP { return .symbolicLink(path: path) }
        return .failed(path: path, step: step, reason: String(cString: strerror(code)).lowercased())
    }
}

/// Every file svdbatch writes into a folder: never through a symbolic link planted at its name, and never seen
/// half-written under its final name. Bytes go to a hidden temporary file created anew next to the final name
/// (`.NAME.tmp-PID`, with O_EXCL and O_NOFOLLOW, so a link or file planted there is refused, not followed),
/// are flushed to disk, and the file is renamed into place (a rename replaces a link at the final name instead
/// of following it).
public enum AtomicFile {
    public static func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    }

    /// Opens `url` with `flags` (O_WRONLY or O_RDWR and others) without following a symbolic link at its name.
    public static func openNoFollow(_ url: URL, flags: Int32, step: String) throws -> Int32 {
        let fd = open(url.path, O_NOFOLLOW | O_CLOEXEC | flags, 0o644)
        guard fd >= 0 else { throw FileWriteError.current(path: url.path, step: step) }
        return fd
    }

    /// Creates the temporary file for `url` (a leftover of a killed process that had this pid is removed
    /// first) and returns its descriptor and name.
    public static func createTemporary(for url: URL) throws -> (fd: Int32, url: URL) {
        let temp = temporaryURL(for: url)
        unlink(temp.path)
        let fd = try openNoFollow(temp, flags: O_WRONLY | O_CREAT | O_EXCL, step: "creating \(temp.lastPathComponent)")
        return (fd, temp)
    }

    /// All of `data` to `fd`, retrying partial writes; a failure names `path`.
    public static func writeAll(_ data: Data, to fd: Int32, path: String) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileWriteError.current(path: path, step: "writing")
                }
                offset += n
            }
        }
    }

    /// Flushes `fd` to disk and closes it, whatever happens.
    public static func syncAndClose(_ fd: Int32, path: String) throws {
        guard fsync(fd) == 0 else {
            let error = FileWriteError.current(path: path, step: "flushing to disk")
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw FileWriteError.current(path: path, step: "closing") }
    }

    /// Writes `data` as the file `url` in one step as others see it. Without `overwrite`, an existing file is
    /// never replaced (`alreadyExists`).
    public static func write(_ data: Data, to url: URL, overwrite: Bool = true) throws {
        let (fd, temp) = try createTemporary(for: url)
        do {
            try writeAll(data, to: fd, path: url.path)
        } catch {
            close(fd)
            unlink(temp.path)
            throw error
        }
        do {
            try syncAndClose(fd, path: url.path)
            try publish(temp, as: url, overwrite: overwrite)
        } catch {
            unlink(temp.path)
            throw error
        }
    }

    /// Moves a finished temporary file to its final name and makes the new entry durable. Without `overwrite`,
    /// a file that appeared meanwhile is never replaced: `link` fails on an existing name, unlike `rename`.
    public static func publish(_ temp: URL, as url: URL, overwrite: Bool) throws {
        if overwrite {
            guard rename(temp.path, url.path) == 0 else {
                throw FileWriteError.current(path: url.path, step: "renaming \(temp.lastPathComponent)")
            }
        } else if link(temp.path, url.path) == 0 {
            unlink(temp.path)
        } else if errno == EEXIST {
            throw FileWriteError.alreadyExists(path: url.path)
        } else {
            // Filesystems without hard links: check, then rename (a small race, but no silent loss in practice).
            var info = stat()
            guard lstat(url.path, &info) != 0 else { throw FileWriteError.alreadyExists(path: url.path) }
            guard rename(temp.path, url.path) == 0 else {
                throw FileWriteError.current(path: url.path, step: "renaming \(temp.lastPathComponent)")
            }
        }
        syncDirectory(of: url)
    }

    /// Makes a rename in `url`'s folder durable.
    public static func syncDirectory(of url: URL) {
        let fd = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Writes `data` as a new file `name` inside the open folder `directory`, never through a link planted
    /// there, and never outside that folder even if its path is swapped for a link meanwhile.
    public static func writeNew(_ data: Data, named name: String, in directory: Int32, reportAs path: String) throws {
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileWriteError.current(path: path, step: "creating") }
        do { try writeAll(data, to: fd, path: path) } catch {
            close(fd)
            throw error
        }
        try syncAndClose(fd, path: path)
    }

    /// Proves that a folder accepts what every run does in it (create a file, rename it, remove it), so an
    /// unusable folder is found before hours of rendering rather than after.
    public static func probe(folder: URL) throws {
        let probe = folder.appendingPathComponent(".svdbatch-probe.tmp-\(getpid())")
        let renamed = folder.appendingPathComponent(".svdbatch-probe-renamed.tmp-\(getpid())")
        unlink(renamed.path)
        let (fd, temp) = try createTemporary(for: probe)
        defer { unlink(temp.path) }
        try writeAll(Data("svdbatch\n".utf8), to: fd, path: temp.path)
        try syncAndClose(fd, path: temp.path)
        guard rename(temp.path, renamed.path) == 0 else {
            throw FileWriteError.current(path: temp.path, step: "renaming a file")
        }
        guard unlink(renamed.path) == 0 else {
            throw FileWriteError.current(path: renamed.path, step: "removing a file")
        }
    }

    /// The final name and the writer's pid of a temporary file named `.TARGET.tmp-PID`.
    public static func temporaryOwner(_ fileName: String) -> (target: String, pid: pid_t)? {
        guard fileName.hasPrefix("."), let range = fileName.range(of: ".tmp-", options: .backwards) else { return nil }
        let digits = fileName[range.upperBound...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let pid = pid_t(digits) else {
            return nil
        }
        return (String(fileName[fileName.index(after: fileName.startIndex)..<range.lowerBound]), pid)
    }

    /// Whether the writer of a temporary file is provably gone: not this process, and no process on this
    /// machine has its pid. (A live process with that pid may be an unrelated one that reused it: its file
    /// stays until a later run.)
    public static func ownerIsGone(_ pid: pid_t) -> Bool {
        if pid == getpid() { return true }   // a killed earlier process that had our pid: we have written nothing yet
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}
