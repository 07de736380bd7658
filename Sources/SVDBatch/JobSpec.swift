import Foundation
import SVDCore
import SVDMedia
import SVDPipeline

/// A validated job: everything needed to render one clip and to compute its job key.
public struct JobSpec: Sendable {
    /// The CSV line the job's record starts on.
    public let line: Int
    /// NAME in NAME.EXT; also names the checkpoint `.NAME.state` and the frames folder `NAME_frames/`.
    public let name: String
    public let format: ClipFormat
    /// The image as the CSV names it.
    public let imageName: String
    public let input: InputFacts
    public let model: ModelFacts
    /// Every pipeline parameter with its effective value.
    public let parameters: VideoParameters
    public let encoder: EncoderSettings

    public var outputFileName: String { "\(name).\(format.fileExtension)" }
    public var checkpointFileName: String { ".\(name).state" }
    public var framesFolderName: String { "\(name)_frames" }
}

/// A row that cannot be rendered: its line, what could be worked out of its output, and every reason.
public struct RowError: Error, Sendable, CustomStringConvertible {
    public let line: Int
    public let name: String?
    public let outputFileName: String?
    public let reasons: [String]

    public var description: String { reasons.joined(separator: "; ") }
}

/// An input image's identity, computed once per file however many rows use it.
public struct InputFacts: Sendable, Equatable {
    /// Absolute, symlinks resolved.
    public let path: String
    public let fileSHA256: String
    public let pixelsSHA256: String
    public let width: Int
    public let height: Int

    /// Decodes the image (PNG, JPEG, WebP, …) and hashes the file and its RGB24 pixels.
    public static func read(_ url: URL) throws -> InputFacts {
        let (record, _) = try InputRecord.read(name: url.path, url: url)
        return InputFacts(path: record.path, fileSHA256: record.fileSHA256, pixelsSHA256: record.pixelsSHA256,
                          width: record.width, height: record.height)
    }
}

/// Reads each input image once per run.
final class InputCache {
    private var known: [String: Result<InputFacts, Error>] = [:]

    func facts(_ url: URL) throws -> InputFacts {
        let key = url.standardizedFileURL.path
        if let result = known[key] { return try result.get() }
        let result = Result { try InputFacts.read(url) }
        known[key] = result
        return try result.get()
    }
}

/// The rules for output names.
public enum JobName {
    /// Room for ".NAME.state.tmp-PID" within the usual 255-byte file name limit.
    public static let maximumBytes = 200

    /// Why `name` is not a plain file name, or nil if it is one.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.contains("/") { return "contains '/'; it must be a plain file name, not a path" }
        if name.contains("..") { return "contains '..'; it must be a plain file name" }
        if name.hasPrefix(".") { return "starts with '.'; such names are hidden and reserved for svdbatch's own files" }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "contains a control character (a line break?)"
        }
        if name.utf8.count > maximumBytes { return "is longer than \(maximumBytes) bytes" }
        return nil
    }

    /// `<image stem>-s<seed>`, the seed written as an integer.
    public static func defaultName(image: String, seed: Seed) -> String {
        let stem = URL(fileURLWithPath: image).deletingPathExtension().lastPathComponent
        return "\(stem)-s\(seed.text)"
    }
}
