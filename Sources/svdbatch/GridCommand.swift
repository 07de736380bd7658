import ArgumentParser
import Foundation
import SVDMedia

/// `svdbatch grid CLIP... --out FILE`: tiles clips into one labelled comparison clip plus a contact sheet.
struct GridCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grid",
        abstract: "Tile clips side by side into one labelled comparison clip, plus a PNG contact sheet.",
        discussion: """
            Cells are the clips in the order given, row by row. Each cell is labelled with recipe values; \
            clips without a recipe are labelled with their file name. Shorter clips hold their last frame; \
            the grid plays at the first clip's frame rate. The grid's metadata lists every cell's clip name \
            and full recipe. The contact sheet (FILE with extension .png) shows 5 evenly spaced frames of \
            each clip, one row per clip.

            Example:
              svdbatch grid out/cat-s1.mp4 out/cat-s2.mp4 out/cat-s3.mp4 out/cat-s4.mp4 \\
                --out compare/cat-grid.mp4 --label seed,motion_bucket_id
            writes compare/cat-grid.mp4 (2 × 2 cells) and compare/cat-grid.png.

            Exit status: 0 on success; 2 for a usage or input problem (unreadable clip, clips of different \
            sizes without --fit, existing output without --force, unknown label key); 1 if writing failed.
            """
    )

    /// Exit statuses documented above.
    enum Status {
        static let writeFailed: Int32 = 1
        static let inputProblem: Int32 = 2
    }

    @Argument(help: "The clips (mp4, webm or mkv), in cell order.")
    var clips: [String] = []

    @Option(help: ArgumentHelp("The grid clip to write; its extension (.mp4, .webm, .mkv) sets the format.",
                               valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("Columns (default: ⌈√n⌉ for n clips).", valueName: "n"))
    var cols: Int?

    @Option(help: ArgumentHelp("""
        Recipe values to label cells with, comma-separated (e.g. seed,motion_bucket_id), or 'none'. \
        Default: the parameters that differ between the clips.
        """, valueName: "keys"))
    var label: String?

    @Flag(help: "Scale clips of different sizes into the largest cell, letterboxed.")
    var fit = false

    @Flag(help: "Replace an existing grid clip and contact sheet.")
    var force = false

    @Option(help: ArgumentHelp("""
        The grid's frame rate (default: the first clip's). Clips at other rates are resampled in time:         frames repeated or dropped so that each plays at its own speed.
        """, valueName: "n"))
    var fps: Int?

    func run() throws {
        let options = GridOptions(columns: cols, labelKeys: labelKeys, fit: fit, force: force, fps: fps)
        let result: GridResult
        do {
            result = try GridBuilder.build(clips: clips.map { URL(fileURLWithPath: $0) },
                                           output: URL(fileURLWithPath: out), options: options)
        } catch let error as GridError {
            Console.error(String(describing: error))
            throw ExitCode(error.isInputProblem ? Status.inputProblem : Status.writeFailed)
        }
        let l = result.layout, s = result.sheetLayout, m = result.metadata
        let labels = m.labelKeys.isEmpty ? "file names" : m.labelKeys.joined(separator: ", ")
        print("\(out): \(l.columns) × \(l.rows) grid of \(clips.count) clips, \(l.width)×\(l.height), "
            + "\(m.frames) frames at \(m.fps) fps, labels: \(labels)")
        print("\(result.contactSheet.path): contact sheet, \(s.width)×\(s.height)")
        for cell in result.resampled {
            Console.notice("\(cell.file) plays at \(cell.fps) fps; resampled to the grid's \(m.fps) fps (frames repeated or dropped, same speed)")
        }
        let t = result.timings
        print(String(format: "took %.1f s: decoding %.1f s, tiling %.1f s, encoding %.1f s",
                     t.decodeSeconds + t.composeSeconds + t.encodeSeconds, t.decodeSeconds, t.composeSeconds,
                     t.encodeSeconds))
    }

    /// nil (the default) when no --label was given; empty for 'none'.
    private var labelKeys: [String]? {
        guard let label else { return nil }
        if label.trimmingCharacters(in: .whitespaces) == "none" { return [] }
        return label.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
