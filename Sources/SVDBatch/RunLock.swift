import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum RunLockError: Error, CustomStringConvertible, Equatable {
    case held(lockFile: String, holder: String?, shard: Shard?)
    case unusable(lockFile: String, reason: String)

    public var description: String {
        switch self {
        case let .held(file, holder, shard):
            let part = shard.map { " for shard \($0)" } ?? ""
            let who = holder.map { " (held by \($0))" } ?? ""
            return "another svdbatch run is using this output folder\(part): \(file) is locked\(who). Wait for it to finish, or use another --out"
        case let .unusable(file, reason):
            return "\(file): cannot lock the output folder: \(reason)"
        }
    }
}

/// One run per output folder and shard: an exclusive `flock` on `.svdbatch.lock` (or
/// `.svdbatch-shard-K-of-N.lock`), held until the process ends, however it ends. The lock file says who holds
/// it, for the message the next run prints. (flock is advisory and unreliable on some network filesystems.)
public final class RunLock {
    public let file: URL
    private var fd: Int32

    public static func acquire(directory: URL, shard: Shard?) throws -> RunLock {
        let file = directory.appendingPathComponent(Shard.lockFileName(shard))
        let fd = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunLockError.unusable(lockFile: file.path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.readHolder(fd)
            close(fd)
            if code == EWOULDBLOCK { throw RunLockError.held(lockFile: file.path, holder: holder, shard: shard) }
            throw RunLockError.unusable(lockFile: file.path, reason: String(cString: strerror(code)))
        }
        let lock = RunLock(file: file, fd: fd)
        lock.recordHolder()
        return lock
    }

    private init(file: URL, fd: Int32) {
        self.file = file
        self.fd = fd
    }

    deinit { release() }

    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    private func recordHolder() {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let text = "pid \(getpid()) on \(String(cString: host)), since \(ISO8601DateFormatter().string(from: Date()))\n"
        ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    private static func readHolder(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
