import ArgumentParser
import Foundation
import SVDMedia

/// `svdbatch inspect CLIP [--json]`: shows the recipe a clip carries.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show the recipe stored in a clip.",
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
            Console.error(String(describing: error))
            throw ExitCode(Status.noRecipe)
        }
        if json {
            print(try recipe.json(pretty: true))
        } else {
            print(RecipeReport(recipe: recipe, probe: probe, name: clip).text, terminator: "")
        }
    }
}
