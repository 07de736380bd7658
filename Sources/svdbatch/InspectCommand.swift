import ArgumentParser
import Foundation
import SVDMedia

/// `svdbatch inspect CLIP [--json]`: shows the recipe a clip carries, or a grid's layout and every cell's recipe.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show the recipe stored in a clip, or a grid's cells and their recipes.",
        discussion: """
            Exit status: 0 on success; 1 if the clip has no svdbatch recipe or a damaged one; \
            2 if the file is not a readable video.
            """
    )

    /// Exit statuses documented above; scripts rely on them.
    enum Status {
        static let noRecipe: Int32 = 1
        static let notAVideo: Int32 = 2
    }

    @Argument(help: "The clip (mp4, webm or mkv) to inspect.")
    var clip: String

    @Flag(help: "Print the recipe as JSON instead of the readable summary.")
    var json = false

    func run() throws {
        let url = URL(fileURLWithPath: clip)
        let probe: ClipProbe
        do {
            probe = try ClipReader.probe(url)
        } catch {
            Console.error(String(describing: error))
            throw ExitCode(Status.notAVideo)
        }
        let recipe: Recipe
        do {
            recipe = try Recipe.decode(comment: probe.comment, file: clip)
        } catch {
            if let grid = try? GridMetadata.decode(comment: probe.comment, file: clip) {
                print(json ? try grid.json() : Self.gridReport(grid, probe: probe, name: clip), terminator: json ? "\n" : "")
                return
            }
            Console.error(String(describing: error))
            throw ExitCode(Status.noRecipe)
        }
        if json {
            print(try recipe.json(pretty: true))
        } else {
            print(RecipeReport(recipe: recipe, probe: probe, name: clip).text, terminator: "")
        }
    }

    /// The grid's layout and one line per cell: where it sits, its file, label, seed and frames hash.
    static func gridReport(_ grid: GridMetadata, probe: ClipProbe, name: String) -> String {
        var lines = ["\(name): svdbatch grid (schema \(grid.schema), written by svdbatch \(grid.svdbatchVersion))", "",
                     "Layout",
                     "  cells        \(grid.cells.count) in \(grid.rows) row\(grid.rows == 1 ? "" : "s") × \(grid.columns) column\(grid.columns == 1 ? "" : "s"), \(grid.cellWidth)×\(grid.cellHeight) each\(grid.fit ? " (fitted)" : "")",
                     "  playback     \(grid.frames) frames at \(grid.fps) fps",
                     "  labels       \(grid.labelKeys.isEmpty ? "none" : grid.labelKeys.joined(separator: ", "))",
                     "", "Cells"]
        for cell in grid.cells {
            let recipe = cell.recipe.map { "seed \($0.parameters.video.seed), \($0.parameters.video.fps) fps, frames_sha256 \($0.framesSHA256.prefix(16))…" }
                ?? "no recipe"
            lines.append("  \(cell.index)  row \(cell.row + 1) column \(cell.column + 1)  \(cell.file)  \(cell.width)×\(cell.height), \(cell.frames) frames  \(cell.label.isEmpty ? "" : "[\(cell.label)]  ")\(recipe)")
        }
        lines.append("")
        lines.append("svdbatch inspect --json prints every cell's full recipe.")
        return lines.joined(separator: "\n") + "\n"
    }
}
