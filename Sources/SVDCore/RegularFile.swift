import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a user's file could not be read whole.
public enum RegularFileError: Error, CustomStringConvertible, Equatable {
    case missing(path: String)
    /// A FIFO, socket, device or directory: refused before any read, so nothing waits on it.
    case notRegular(path: String, kind: String)
    case tooLarge(path: String, bytes: Int64, limit: Int)
    case unreadable(path: String, reason: String)

    public var path: String {
        switch self {
        case let .missing(path), let .notRegular(path, _), let .tooLarge(path, _, _), let .unreadable(path, _): return path
        }
    }

    /// The reason without the path, for errors that name the file their own way.
    public var reason: String {
        switch self {
        case .missing: return "no such file"
        case let .notRegular(_, kind): return "not a regular file (\(kind))"
        case let .tooLarge(_, bytes, limit): return "\(bytes) bytes, over the \(limit)-byte limit for this kind of file"
        case let .unreadable(_, reason): return reason
        }
    }

    public var description: String { "\(path): \(reason)" }
}

/// Reads files other people hand over (job lists, configs, images, checkpoints). The open never waits (a FIFO
/// with no writer would block forever, and a blocked open or read holds off the stop signal), anything but a
/// regular file is refused before a byte is read, and the size is checked before anything is allocated.
public enum RegularFile {
    /// Opens a regular file for reading, without waiting; returns the descriptor (the caller closes it) and
    /// the size.
    public static func open(_ url: URL) throws -> (fd: Int32, size: Int) {
        let path = url.path
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw RegularFileError.missing(path: path) }
            throw RegularFileError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw RegularFileError.unreadable(path: path, reason: reason)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw RegularFileError.notRegular(path: path, kind: kind(info.st_mode))
        }
        return (fd, Int(info.st_size))
    }

    /// The whole file, at most `limit` bytes. A file that shrinks while being read yields what was there.
    public static func read(_ url: URL, limit: Int) throws -> Data {
        let path = url.path
        let (fd, size) = try open(url)
        defer { close(fd) }
        guard size <= limit else { throw RegularFileError.tooLarge(path: path, bytes: Int64(size), limit: limit) }
        var bytes = Data(count: size)
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RegularFileError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            filled += n
        }
        return bytes.prefix(filled)
    }

    /// "a FIFO", "a directory", … for messages.
    public static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR, S_IFBLK: return "a device"
        default: return "not a plain file"
        }
    }
}
