import Foundation
import SVDMedia

/// Everything `svdbatch rerender` takes, independent of the command-line parser.
public struct RerenderOptions: Sendable, CommandOptions {
    /// The clip whose recipe is rendered again, as the user named it.
    public var clipPath: String
    /// `--out`: where a clip is written; nil: the clip's folder (and, with `verify`, no clip at all).
    public var outputDirectory: String?
    /// `--image`: the input image, checked against the recorded pixel hash.
    public var imagePath: String?
    /// `--images-dir`: a folder searched (with its subfolders) for an image with the recorded pixels.
    public var imagesDirectory: String?
    /// `--model`: the recorded model's location; its fingerprint must match the recipe's.
    public var model: String?
    /// `--set KEY=VALUE`, each: renders a variation instead of the same job.
    public var set: [String] = []
    /// `--format`: the container and encoder of the clip written; never changes the frames.
    public var format: ClipFormat?
    public var verify = false
    public var settings: RunSettings

    public init(clipPath: String, workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.clipPath = clipPath
        settings = RunSettings(workingDirectory: workingDirectory, environment: environment)
    }
}
