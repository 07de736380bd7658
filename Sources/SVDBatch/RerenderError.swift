import Foundation
import SVDMedia

/// One place `rerender` looked for its image or model, and what it found there.
public struct SearchedPlace: Sendable, Equatable {
    public let place: String
    public let outcome: String

    public init(_ place: String, _ outcome: String) {
        self.place = place
        self.outcome = outcome
    }
}

/// Why `rerender` cannot start (exit status 2): a usage problem, or an input that is not the recorded one.
/// Each message names the file or option and says what to do.
public enum RerenderError: Error, CustomStringConvertible {
    case usage(String)
    /// The clip is unreadable or carries no usable recipe.
    case clip(String)
    /// No image with the recorded pixels was found.
    case imageNotFound(recorded: InputRecord, searched: [SearchedPlace])
    /// `--image` names a different image.
    case wrongImage(path: String, pixelsSHA256: String, width: Int, height: Int, recorded: InputRecord)
    /// No model with the recorded fingerprint was found.
    case modelMismatch(recorded: ModelRecord, searched: [SearchedPlace])
    /// The recipe, or the recipe with the `--set` values, is not a job svdbatch can render.
    case invalidJob([String])
    /// A file that is not this job's clip is where the clip would go.
    case outputExists(path: String, reason: String)
    /// The clip would be written over the clip being re-rendered.
    case outputIsSource(path: String)

    public var description: String {
        switch self {
        case let .usage(message), let .clip(message):
            return message
        case let .imageNotFound(recorded, searched):
            return "no image with the recorded pixels (SHA-256 \(recorded.pixelsSHA256.prefix(16))…, \(recorded.width)×\(recorded.height), recorded as '\(recorded.name)'); looked at:\n"
                + Self.list(searched)
                + "\nGive the original image with --image PATH, or a folder holding it with --images-dir DIR (a losslessly re-saved copy is fine)."
        case let .wrongImage(path, pixels, width, height, recorded):
            return "--image \(path) is not the image this clip was made from: its pixels (SHA-256 \(pixels.prefix(16))…, \(width)×\(height)) differ from the recorded ones (SHA-256 \(recorded.pixelsSHA256.prefix(16))…, \(recorded.width)×\(recorded.height), '\(recorded.name)'); rendering it would not reproduce the clip. Give the original image (a losslessly re-saved copy is fine), or use `svdbatch run` for a new image."
        case let .modelMismatch(recorded, searched):
            return "no model matching the recipe's fingerprint (\(recorded.fingerprint.sha256.prefix(16))…, recorded as '\(recorded.name)', \(recorded.variant) weights); looked at:\n"
                + Self.list(searched)
                + "\nGive the model the clip was made with: --model DIR|REPO_ID (to render with another model on purpose, use --set model=DIR|REPO_ID)."
        case let .invalidJob(problems):
            return problems.joined(separator: "\n")
        case let .outputExists(path, reason):
            return "\(path) is in the way: \(reason); it is left alone (--force replaces it, or choose another --out)"
        case let .outputIsSource(path):
            return "\(path) is the clip being re-rendered, and rerender never writes over it. --verify checks that it reproduces; --out DIR writes a fresh copy elsewhere; --set KEY=VALUE or --format F make a variation next to it."
        }
    }

    private static func list(_ places: [SearchedPlace]) -> String {
        places.map { "  \($0.place): \($0.outcome)" }.joined(separator: "\n")
    }
}
