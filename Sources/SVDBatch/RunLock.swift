import Foundation
import SVDCore
#if canImport(Glibc)
import Glibc
#endif

public enum RunLockError: Error, CustomStringConvertible, Equatable {
    case held(lockFile: String, holder: String?, shard: Shard?)
    /// Runs that could render the same clips: an unsharded run and sharded ones, or shards of different counts.
    case overlapping(reason: String)
    case unusable(lockFile: String, reason: String)

    public var description: String {
        switch self {
        case let .held(file, holder, shard):
            let part = shard.map { " for shard \($0)" } ?? ""
            let who = holder.map { " (held by \($0))" } ?? ""
            return "another svdbatch run is using this output folder\(part): \(file) is locked\(who). Wait for it to finish, or use another --out"
        case let .overlapping(reason):
            return "\(reason). Wait for it to finish, or use another --out"
        case let .unusable(file, reason):
            return "\(file): cannot lock the output folder: \(reason)"
        }
    }
}

/// Keeps apart the runs that could write the same clips into one output folder, with `flock`s held until the
/// process ends, however it ends:
/// - every run holds `.svdbatch.lock`: an unsharded run (run, sweep, rerender) exclusively, a sharded run
///   shared, so an unsharded run and sharded runs never overlap;
/// - a sharded run also holds its own `.svdbatch-shard-K-of-N.lock` exclusively (one run per shard), and
///   refuses to start while a shard of another count N′ runs (K/N and K′/N′ share clips).
/// The lock held exclusively says who holds it, for the message the next run prints. Lock files are opened
/// without following symbolic links. (flock is advisory and unreliable on some network filesystems.)
public final class RunLock {
    public let file: URL
    private var descriptors: [Int32]

    public static func acquire(directory: URL, shard: Shard?) throws -> RunLock {
        let folderFile = directory.appendingPathComponent(Shard.lockFileName(nil))
        let folder = try open(folderFile)
        var held = [folder]
        func fail(_ error: RunLockError) -> RunLockError {
            for fd in held { close(fd) }
            return error
        }
        guard let shard else {
            if let code = lock(folder, LOCK_EX) {
                guard code == EWOULDBLOCK else { throw fail(.unusable(lockFile: folderFile.path, reason: describe(code))) }
                let shards = runningShards(in: directory, except: nil)
                if !shards.isEmpty {
                    throw fail(.overlapping(reason: "sharded runs are using this output folder (\(shards.joined(separator: "; "))), and an unsharded run would render the same clips"))
                }
                throw fail(.held(lockFile: folderFile.path, holder: readHolder(folder), shard: nil))
            }
            recordHolder(folder)
            return RunLock(file: folderFile, descriptors: held)
        }

        if let code = lock(folder, LOCK_SH) {
            guard code == EWOULDBLOCK else { throw fail(.unusable(lockFile: folderFile.path, reason: describe(code))) }
            let who = readHolder(folder).map { " (held by \($0))" } ?? ""
            throw fail(.overlapping(reason: "an unsharded svdbatch run is using this output folder\(who), and shard \(shard) would render some of its clips"))
        }
        let shardFile = directory.appendingPathComponent(Shard.lockFileName(shard))
        let own: Int32
        do { own = try open(shardFile) } catch let error as RunLockError { throw fail(error) }
        held.append(own)
        if let code = lock(own, LOCK_EX) {
            guard code == EWOULDBLOCK else { throw fail(.unusable(lockFile: shardFile.path, reason: describe(code))) }
            throw fail(.held(lockFile: shardFile.path, holder: readHolder(own), shard: shard))
        }
        // Two runs of different counts starting together may each see the other and both stop: safe, and
        // exit status 75 says to try again.
        let others = runningShards(in: directory, except: shard.count)
        if !others.isEmpty {
            throw fail(.overlapping(reason: "shards of another count are using this output folder (\(others.joined(separator: "; "))), and shard \(shard) would render some of their clips"))
        }
        recordHolder(own)
        return RunLock(file: shardFile, descriptors: held)
    }

    private init(file: URL, descriptors: [Int32]) {
        self.file = file
        self.descriptors = descriptors
    }

    deinit { release() }

    public func release() {
        for fd in descriptors.reversed() {
            flock(fd, LOCK_UN)
            close(fd)
        }
        descriptors = []
    }

    /// Opens (creating) a lock file; a symbolic link at its name is refused, never followed.
    private static func open(_ file: URL) throws -> Int32 {
        do { return try AtomicFile.openNoFollow(file, flags: O_RDWR | O_CREAT, step: "opening") } catch {
            let reason = if case let FileWriteError.failed(_, _, text) = error { text } else { "\(error)" }
            throw RunLockError.unusable(lockFile: file.path, reason: reason)
        }
    }

    /// nil on success, else errno.
    private static func lock(_ fd: Int32, _ operation: Int32) -> Int32? {
        while flock(fd, operation | LOCK_NB) != 0 {
            if errno != EINTR { return errno }
        }
        return nil
    }

    /// "shard 1/3 (pid … on …)" for each shard lock in `directory` that a live run holds, but those of
    /// `exceptCount` shards.
    private static func runningShards(in directory: URL, except exceptCount: Int?) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.sorted().compactMap { name -> String? in
            guard let shard = Shard.fromLockFileName(name), shard.count != exceptCount else { return nil }
            let fd = Glibc.open(directory.appendingPathComponent(name).path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            guard lock(fd, LOCK_SH) == EWOULDBLOCK else { return nil }   // free: no run holds it
            return "shard \(shard)" + (readHolder(fd).map { " held by \($0)" } ?? "")
        }
    }

    private static func recordHolder(_ fd: Int32) {
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

    private static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}
