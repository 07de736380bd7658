import Foundation
import SVDCore
import SVDMedia

/// Finds the recipe's input image: `--image`, else the recorded absolute path, else the path as written in
/// the job list taken from the clip's folder and from the working directory, else any image under
/// `--images-dir` with the recorded pixel hash. Pixels decide, not file bytes: a losslessly re-saved image
/// is the same input; an image with other pixels is never used in its place.
struct RerenderImageSearch {
    let recorded: InputRecord
    /// `--image`: when given, the only candidate (a wrong one is an error, not a reason to look elsewhere).
    let explicit: URL?
    let clipFolder: URL
    let workingDirectory: URL
    let imagesDirectory: URL?

    struct Found {
        let url: URL
        /// Said to the user, e.g. that the file differs but its pixels do not.
        let notes: [String]
    }

    /// Extensions looked at in `--images-dir` (the decoder itself goes by content).
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]

    private enum Outcome {
        case match(Found)
        case missing
        case unreadable(String)
        case different(pixelsSHA256: String, width: Int, height: Int)

        var text: String {
            switch self {
            case .match: return "the recorded image"
            case .missing: return "no such file"
            case let .unreadable(why): return "unusable (\(why))"
            case let .different(sha, w, h): return "a different image (pixels SHA-256 \(sha.prefix(16))…, \(w)×\(h))"
            }
        }
    }

    func find() throws -> Found {
        if let explicit {
            let outcome = examine(explicit, foundBy: "--image")
            switch outcome {
            case let .match(found): return found
            case let .different(sha, w, h):
                throw RerenderError.wrongImage(path: explicit.path, pixelsSHA256: sha, width: w, height: h, recorded: recorded)
            case .missing, .unreadable:
                throw RerenderError.imageNotFound(recorded: recorded, searched: [SearchedPlace("--image \(explicit.path)", outcome.text)])
            }
        }
        var searched: [SearchedPlace] = []
        var seen = Set<String>()
        for (place, url) in fixedCandidates() where seen.insert(url.standardizedFileURL.path).inserted {
            let outcome = examine(url, foundBy: place)
            if case let .match(found) = outcome { return found }
            searched.append(SearchedPlace("\(place) \(url.path)", outcome.text))
        }
        guard let folder = imagesDirectory else {
            searched.append(SearchedPlace("--images-dir", "not given"))
            throw RerenderError.imageNotFound(recorded: recorded, searched: searched)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            searched.append(SearchedPlace("--images-dir \(folder.path)", "no such folder"))
            throw RerenderError.imageNotFound(recorded: recorded, searched: searched)
        }
        let files = imageFiles(in: folder)
        for url in files where !seen.contains(url.standardizedFileURL.path) {
            if case let .match(found) = examine(url, foundBy: "--images-dir") { return found }
        }
        searched.append(SearchedPlace("--images-dir \(folder.path)",
                                      "\(files.count) image file\(files.count == 1 ? "" : "s"), none with the recorded pixels"))
        throw RerenderError.imageNotFound(recorded: recorded, searched: searched)
    }

    /// The recorded absolute path, then the job-list path from the clip's folder and from the working directory.
    private func fixedCandidates() -> [(String, URL)] {
        var candidates = [("the recorded path", URL(fileURLWithPath: recorded.path))]
        if recorded.name.hasPrefix("/") {
            candidates.append(("the job-list path", URL(fileURLWithPath: recorded.name)))
        } else {
            candidates.append(("'\(recorded.name)' from the clip's folder", clipFolder.appendingPathComponent(recorded.name)))
            candidates.append(("'\(recorded.name)' from the current folder", workingDirectory.appendingPathComponent(recorded.name)))
        }
        return candidates
    }

    /// Image files under `folder` (hidden ones skipped), those named like the recorded image first.
    private func imageFiles(in folder: URL) -> [URL] {
        let keys: [URLResourceKey] = [.isRegularFileKey]
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: keys,
                                                          options: [.skipsHiddenFiles]) else { return [] }
        var files: [URL] = []
        for case let url as URL in walker where Self.imageExtensions.contains(url.pathExtension.lowercased()) {
            if (try? url.resourceValues(forKeys: Set(keys)).isRegularFile) == true { files.append(url) }
        }
        let recordedName = URL(fileURLWithPath: recorded.name).lastPathComponent
        return files.sorted { a, b in
            let (aSame, bSame) = (a.lastPathComponent == recordedName, b.lastPathComponent == recordedName)
            return aSame != bSame ? aSame : a.path < b.path
        }
    }

    private func examine(_ url: URL, foundBy place: String) -> Outcome {
        guard FileManager.default.fileExists(atPath: url.path) else { return .missing }
        let record: InputRecord
        do {
            record = try InputRecord.read(name: recorded.name, url: url).record
        } catch {
            return .unreadable("\(error)")
        }
        guard record.pixelsSHA256 == recorded.pixelsSHA256 else {
            return .different(pixelsSHA256: record.pixelsSHA256, width: record.width, height: record.height)
        }
        var notes: [String] = []
        if record.path != recorded.path { notes.append("input image found at \(record.path) (\(place)); the recipe recorded \(recorded.path)") }
        if record.fileSHA256 != recorded.fileSHA256 {
            notes.append("\(record.path) is not byte-identical to the recorded file (re-saved or re-compressed?), but its pixels are: it is the same input")
        }
        return .match(Found(url: url, notes: notes))
    }
}
