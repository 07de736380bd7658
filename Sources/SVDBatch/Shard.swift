import Foundation
import SVDCore
import SVDMedia

/// One of N disjoint parts of a job list (`--shard K/N`): the jobs whose output file name's SHA-256, read as a
/// big-endian integer from its first 8 bytes, is ≡ K (mod N). Membership depends on the name alone, so N
/// machines split one CSV without talking to each other, and the parts never overlap.
public struct Shard: Hashable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, (0..<count).contains(index) else { throw ShardError.outOfRange(index: index, count: count) }
        self.index = index
        self.count = count
    }

    /// Parses "K/N".
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else { throw ShardError.malformed(text) }
        try self.init(index: k, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    public func contains(outputFileName name: String) -> Bool {
        Self.bucket(of: name, count: count) == index
    }

    static func bucket(of name: String, count: Int) -> Int {
        // The first 16 hex digits are the first 8 bytes, most significant first.
        let hex = Digests.sha256Hex(Data(name.utf8))
        let value = UInt64(hex.prefix(16), radix: 16)!
        return Int(value % UInt64(count))
    }

    /// The run lock's file name: one run per output folder and shard.
    public static func lockFileName(_ shard: Shard?) -> String {
        shard.map { ".svdbatch-shard-\($0.index)-of-\($0.count).lock" } ?? ".svdbatch.lock"
    }

    /// The shard whose lock file is `name`, or nil.
    static func fromLockFileName(_ name: String) -> Shard? {
        let prefix = ".svdbatch-shard-", suffix = ".lock"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let parts = name.dropFirst(prefix.count).dropLast(suffix.count).components(separatedBy: "-of-")
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        return try? Shard(index: k, count: n)
    }

    /// The manifest's file name: each shard appends to its own, so shards never interleave lines.
    public static func manifestFileName(_ shard: Shard?) -> String {
        shard.map { "manifest-shard-\($0.index)-of-\($0.count).jsonl" } ?? "manifest.jsonl"
    }
}

public enum ShardError: Error, CustomStringConvertible, Equatable {
    case malformed(String)
    case outOfRange(index: Int, count: Int)

    public var description: String {
        switch self {
        case let .malformed(text): return "--shard '\(text)' is not K/N (e.g. --shard 0/4 for the first of four parts)"
        case let .outOfRange(k, n): return "--shard \(k)/\(n): need N ≥ 1 and 0 ≤ K < N (shards are numbered from 0)"
        }
    }
}
