import Foundation
import SVDMedia

/// A sweep's comparison grid, `<image stem>-grid.<ext>`, and its contact sheet `<image stem>-grid.png`:
/// one column per seed, one row per combination of the varied values, both axes labelled.
///
/// A rerun rebuilds them only when needed: the grid is up to date when its metadata lists exactly these
/// cells with exactly the recipes they carry now, the same axes, and its contact sheet is there. A grid
/// of these same cell files that is out of date is svdbatch's own derived file and is rebuilt (the run
/// says so). Anything else under those names (another sweep's grid, a file that is no grid, a contact
/// sheet without its grid) may be the user's: it is a conflict, left alone unless `--force`.
struct SweepGrid {
    enum Decision: Equatable {
        case build
        case upToDate
        /// This sweep's own grid, out of date.
        case rebuild(reason: String)
        case conflict(reason: String)
        /// `--force` over a conflict.
        case replace(reason: String)

        /// Whether the grid gets (re)built.
        var builds: Bool {
            switch self {
            case .build, .rebuild, .replace: return true
            case .upToDate, .conflict: return false
            }
        }

        var text: String {
            switch self {
            case .build: return "build"
            case .upToDate: return "up to date"
            case let .rebuild(reason): return "rebuild: \(reason)"
            case let .conflict(reason): return "conflict: \(reason); it is left alone (--force replaces it, or give this sweep its own --out)"
            case let .replace(reason): return "--force: replace: \(reason)"
            }
        }
    }

    let video: URL
    let cells: [URL]
    let options: GridOptions

    var sheet: URL { video.deletingPathExtension().appendingPathExtension("png") }

    init(design: SweepDesign, specs: [JobSpec], directory: URL, format: ClipFormat) {
        let stem = URL(fileURLWithPath: design.image).deletingPathExtension().lastPathComponent
        video = directory.appendingPathComponent("\(stem)-grid.\(format.fileExtension)")
        cells = specs.map { directory.appendingPathComponent($0.outputFileName) }
        // Axis headers say what varies, so cells carry no labels of their own; sheet rows show file names.
        options = GridOptions(columns: design.seeds.count, labelKeys: [], fit: design.variesSize,
                              rowHeaders: design.rowHeaders, columnHeaders: design.columnHeaders)
    }

    /// What to do with the grid once the cells are done; `pending` names cells that are still to be
    /// (re)rendered (a dry run), which count as changed.
    func decide(force: Bool, pending: Set<String> = []) -> Decision {
        let decision = ownership(pending: pending)
        if force, case let .conflict(reason) = decision { return .replace(reason: reason) }
        return decision
    }

    private func ownership(pending: Set<String>) -> Decision {
        let fm = FileManager.default
        guard fm.fileExists(atPath: video.path) else {
            if fm.fileExists(atPath: sheet.path) {
                return .conflict(reason: "\(sheet.path) exists but \(video.lastPathComponent) does not, so it may not be this sweep's contact sheet")
            }
            return .build
        }
        let metadata: GridMetadata
        do {
            let probe = try ClipReader.probe(video)
            metadata = try GridMetadata.decode(comment: probe.comment, file: video.path)
        } catch {
            return .conflict(reason: "\(video.path) exists and is not an svdbatch grid (\(error))")
        }
        let names = cells.map(\.lastPathComponent)
        guard metadata.cells.map(\.file) == names else {
            let theirs = metadata.cells.prefix(3).map(\.file).joined(separator: ", ")
            return .conflict(reason: "\(video.path) is the grid of other clips (\(theirs)\(metadata.cells.count > 3 ? ", …" : ""))")
        }
        guard metadata.columns == options.columns, metadata.rowHeaders == options.rowHeaders,
              metadata.columnHeaders == options.columnHeaders, metadata.labelKeys.isEmpty else {
            return .rebuild(reason: "its layout or axis labels differ from this sweep's")
        }
        let waiting = names.filter(pending.contains)
        if !waiting.isEmpty {
            return .rebuild(reason: "if rendering changes any of its \(waiting.count) cells still to be rendered")
        }
        let changed = zip(cells, metadata.cells).filter { url, cell in Self.recipe(of: url) != cell.recipe }
            .map(\.0.lastPathComponent)
        if !changed.isEmpty {
            return .rebuild(reason: "\(changed.count) of its cells changed since it was built (\(changed.prefix(3).joined(separator: ", "))\(changed.count > 3 ? ", …" : ""))")
        }
        guard fm.fileExists(atPath: sheet.path) else { return .rebuild(reason: "its contact sheet \(sheet.lastPathComponent) is missing") }
        return .upToDate
    }

    /// Once every cell is there: leaves the grid alone, builds or rebuilds it, or reports the conflict.
    /// Returns the grid, or nil when it met a conflict or could not be written (the sweep then exits 1).
    func update(force: Bool, reporter: BatchReporter) -> URL? {
        let decision = decide(force: force)
        switch decision {
        case .upToDate:
            reporter.info("grid \(video.path) is up to date")
            return video
        case .conflict:
            reporter.error("grid \(video.lastPathComponent): \(decision.text)")
            return nil
        case let .rebuild(reason):
            reporter.info("rebuilding the grid \(video.lastPathComponent): \(reason)")
        case let .replace(reason):
            reporter.warning("--force: replacing the grid: \(reason)")
        case .build:
            break
        }
        do {
            let result = try build(decision)
            let l = result.layout
            reporter.info("grid \(result.output.path): \(l.columns) × \(l.rows) cells, \(l.width)×\(l.height), \(result.metadata.fps) fps; contact sheet \(result.contactSheet.lastPathComponent)")
            for cell in result.resampled {
                reporter.notice("grid: \(cell.file) plays at \(cell.fps) fps; resampled to the grid's \(result.metadata.fps) fps (frames repeated or dropped, same speed)")
            }
            return result.output
        } catch {
            reporter.error("grid \(video.path): \(error)")
            return nil
        }
    }

    /// Builds (or, for a rebuild or replacement, replaces) the grid and its contact sheet.
    func build(_ decision: Decision) throws -> GridResult {
        var options = options
        switch decision {
        case .rebuild, .replace: options.force = true
        case .build, .upToDate, .conflict: options.force = false
        }
        return try GridBuilder.build(clips: cells, output: video, options: options)
    }

    private static func recipe(of clip: URL) -> Recipe? {
        guard let probe = try? ClipReader.probe(clip) else { return nil }
        return try? Recipe.decode(comment: probe.comment, file: clip.path)
    }
}
