import Crypto
import Foundation
import SVDCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A model folder's fingerprint, from the files it loaded.
extension ModelFingerprint {
    /// Hashes the files `directory` loaded. `cache` (the user's cache folder by default; nil for none) spares
    /// rehashing unchanged files.
    public init(directory: ModelDirectory, cache: FileDigestCache? = FileDigestCache.shared()) throws {
        try self.init(root: directory.fingerprintRoot, relativePaths: directory.loadedFiles, cache: cache)
    }

    public init(root: URL, relativePaths: [String], cache: FileDigestCache?) throws {
        var files: [String: String] = [:]
        for path in relativePaths {
            let url = root.appendingPathComponent(path)
            files[path] = try cache?.digest(of: url) ?? FileDigestCache.sha256(of: url)
        }
        try cache?.save()
        self.init(files: files)
    }
}

/// Why a file could not be hashed or the digest cache not written.
public struct FingerprintError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// SHA-256 digests of files remembered by (absolute path, size, modification time), in a JSON file in the user's
/// cache folder, so a multi-gigabyte model is hashed once rather than for every clip. A file whose size or
/// modification time changed is hashed again. Concurrent processes may each write the cache; the file is
/// replaced atomically, so the worst case is a lost entry and one more hash later.
public final class FileDigestCache: @unchecked Sendable {
    struct Entry: Codable, Equatable {
        var size: Int64
        var mtimeSeconds: Int64
        var mtimeNanoseconds: Int64
        var sha256: String

        enum CodingKeys: String, CodingKey {
            case size, sha256
            case mtimeSeconds = "mtime_seconds"
            case mtimeNanoseconds = "mtime_nanoseconds"
        }
    }

    /// The JSON file holding the digests.
    public let file: URL
    private var entries: [String: Entry]
    private var dirty = false
    private var hashed: [String] = []
    private let lock = NSLock()

    public static let fileName = "file-digests.json"

    /// `$XDG_CACHE_HOME/svdbatch`, else `~/.cache/svdbatch`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {   // the spec ignores relative values
            return URL(fileURLWithPath: xdg).appendingPathComponent("svdbatch")
        }
        let home = environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/svdbatch")
    }

    /// The cache in the user's cache folder.
    public static func shared() -> FileDigestCache { FileDigestCache(directory: defaultDirectory()) }

    /// A cache stored in `directory` (created on save). An unreadable or corrupt cache file is treated as
    /// empty: it only ever saves time.
    public init(directory: URL) {
        file = directory.appendingPathComponent(Self.fileName)
        entries = Self.load(file)
    }

    /// Absolute paths this instance hashed (rather than took from the cache), in order.
    public var hashedPaths: [String] { lock.withLock { hashed } }

    /// The file's SHA-256, from the cache when its size and modification time are unchanged.
    public func digest(of url: URL) throws -> String {
        let path = Self.canonicalPath(url)
        let before = try Self.identity(path)
        if let entry = lock.withLock({ entries[path] }), entry.matches(before) { return entry.sha256 }
        let digest = try Self.sha256(of: URL(fileURLWithPath: path))
        // A file rewritten while it was read gets no entry: the digest may mix old and new content.
        if let after = try? Self.identity(path), after == before {
            lock.withLock {
                entries[path] = Entry(size: before.size, mtimeSeconds: before.seconds, mtimeNanoseconds: before.nanoseconds,
                                      sha256: digest)
                dirty = true
            }
        }
        lock.withLock { hashed.append(path) }
        return digest
    }

    /// Writes new entries, merged with whatever another process saved meanwhile; entries of files that no
    /// longer exist are dropped so the cache does not grow without bound.
    public func save() throws {
        try lock.withLock {
            guard dirty else { return }
            var merged = Self.load(file)
            merged.merge(entries) { _, mine in mine }
            merged = merged.filter { FileManager.default.fileExists(atPath: $0.key) }
            do {
                try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                try AtomicFile.write(try encoder.encode(merged), to: file)
            } catch {
                throw FingerprintError(path: file.path, reason: "cannot write the digest cache: \(error.localizedDescription)")
            }
            entries = merged
            dirty = false
        }
    }

    /// SHA-256 of a file (`Digests.sha256Hex(fileAt:)`), with the failure as a fingerprint error.
    public static func sha256(of url: URL) throws -> String {
        do { return try Digests.sha256Hex(fileAt: url) } catch let error as DigestError {
            throw FingerprintError(path: error.path, reason: error.reason)
        }
    }

    struct Identity: Equatable {
        var size: Int64
        var seconds: Int64
        var nanoseconds: Int64
    }

    static func identity(_ path: String) throws -> Identity {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw FingerprintError(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        #if canImport(Darwin)
        let mtime = st.st_mtimespec
        #else
        let mtime = st.st_mtim
        #endif
        return Identity(size: Int64(st.st_size), seconds: Int64(mtime.tv_sec), nanoseconds: Int64(mtime.tv_nsec))
    }

    /// Absolute, with symlinks resolved (Hugging Face caches link snapshot files to shared blobs).
    static func canonicalPath(_ url: URL) -> String {
        guard let resolved = realpath(url.path, nil) else { return url.standardizedFileURL.path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func load(_ file: URL) -> [String: Entry] {
        guard let data = try? Data(contentsOf: file),
              let entries = try? JSONDecoder().decode([String: Entry].self, from: data) else { return [:] }
        return entries
    }
}

extension FileDigestCache.Entry {
    func matches(_ id: FileDigestCache.Identity) -> Bool {
        size == id.size && mtimeSeconds == id.seconds && mtimeNanoseconds == id.nanoseconds
    }
}

