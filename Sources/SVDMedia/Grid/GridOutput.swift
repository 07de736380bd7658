import Foundation
import SVDCore

/// The two files a grid writes, the clip and its contact sheet, and the checks made before any work.
struct GridOutput {
    let video: URL
    let sheet: URL
    let format: ClipFormat

    /// `grid.mp4` → `grid.png`.
    static func sheetURL(for video: URL) -> URL { video.deletingPathExtension().appendingPathExtension("png") }

    init(video: URL) throws {
        guard let format = ClipFormat(rawValue: video.pathExtension.lowercased()) else {
            throw GridError.unsupportedFormat(path: video.path)
        }
        self.video = video
        self.sheet = Self.sheetURL(for: video)
        self.format = format
    }

    /// Refuses outputs that would replace an input clip, live in a missing folder, or (without `force`)
    /// exist already; checked for both files before anything is written.
    func check(inputs: [URL], force: Bool) throws {
        let inputPaths = Set(inputs.map(Self.canonical))
        for url in [video, sheet] where inputPaths.contains(Self.canonical(url)) {
            throw GridError.outputIsInput(path: url.path)
        }
        var isDirectory: ObjCBool = false
        let folder = video.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw GridError.outputFolderMissing(path: video.path)
        }
        if !force {
            let existing = [video, sheet].filter { FileManager.default.fileExists(atPath: $0.path) }
            if !existing.isEmpty { throw GridError.outputExists(paths: existing.map(\.path)) }
        }
    }

    /// Writes the encoded sheet to a temporary file next to its final name and syncs it; `publishSheet`
    /// moves it into place once the video is written.
    func stageSheet(_ png: [UInt8]) throws -> URL {
        do {
            let (fd, temp) = try AtomicFile.createTemporary(for: sheet)
            do {
                try AtomicFile.writeAll(Data(png), to: fd, path: sheet.path)
            } catch {
                close(fd)
                unlink(temp.path)
                throw error
            }
            do { try AtomicFile.syncAndClose(fd, path: sheet.path) } catch {
                unlink(temp.path)
                throw error
            }
            return temp
        } catch {
            throw GridError.writeFailed(PNGWriterError.writeFailed(path: sheet.path, reason: "\(error)"))
        }
    }

    func publishSheet(_ temp: URL, force: Bool) throws {
        do { try AtomicFile.publish(temp, as: sheet, overwrite: force) } catch {
            unlink(temp.path)
            throw Self.gridError(error)
        }
    }

    /// Writer errors as grid errors: a file that appeared meanwhile is an existing output.
    static func gridError(_ error: Error) -> Error {
        if case let ClipWriteError.alreadyExists(path) = error { return GridError.outputExists(paths: [path]) }
        if case let FileWriteError.alreadyExists(path) = error { return GridError.outputExists(paths: [path]) }
        return error is GridError ? error : GridError.writeFailed(error)
    }

    private static func canonical(_ url: URL) -> String { url.standardizedFileURL.resolvingSymlinksInPath().path }
}
