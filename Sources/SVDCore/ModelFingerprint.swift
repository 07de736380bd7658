import Crypto
import Foundation

/// Identifies a model by content: the SHA-256 of every config and weight file loaded, keyed by path relative to
/// the model folder, and one digest over them all. Two copies of the same model in different places have the
/// same fingerprint. Recipes record it as it is; `SVDModels` computes it from a model folder.
public struct ModelFingerprint: Codable, Hashable, Sendable {
    /// Relative path → lowercase hex SHA-256.
    public var files: [String: String]
    /// SHA-256 over the sorted "path\tdigest\n" lines: what identifies the model in job keys.
    public var sha256: String

    /// A fingerprint as recorded (a recipe's), taken as it is.
    public init(files: [String: String], sha256: String) {
        self.files = files
        self.sha256 = sha256
    }

    /// The fingerprint of these file digests.
    public init(files: [String: String]) {
        var hash = SHA256()
        for path in files.keys.sorted() { hash.update(data: Data("\(path)\t\(files[path]!)\n".utf8)) }
        self.init(files: files, sha256: Digests.hex(hash.finalize()))
    }
}
