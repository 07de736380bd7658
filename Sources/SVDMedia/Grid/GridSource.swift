import Foundation

/// One input clip of a grid, probed (not decoded): size, length, frame rate and recipe.
struct GridSource {
    let url: URL
    let probe: ClipProbe
    /// nil for a clip with no svdbatch recipe (it is labelled with its file name).
    let recipe: Recipe?

    var name: String { url.lastPathComponent }
    var width: Int { probe.stream.width }
    var height: Int { probe.stream.height }

    /// Whole frames per second (the writer takes integers): the container's rate rounded, else the recipe's,
    /// else SVD's usual 7 for a stream that states no rate at all.
    var fps: Int {
        let rate = probe.stream.frameRate
        if rate.numerator > 0, rate.denominator > 0 { return max(1, Int(rate.value.rounded())) }
        return recipe?.parameters.video.fps ?? 7
    }

    /// Probes every clip before anything is decoded, so that a bad clip or a size mismatch is reported
    /// before minutes of work. A clip without a recipe is accepted; a damaged recipe is not, because the
    /// grid could not carry it.
    static func load(_ urls: [URL]) throws -> [GridSource] {
        try urls.map { url in
            let probe: ClipProbe
            do { probe = try ClipReader.probe(url) } catch let error as ClipReadError {
                throw GridError.unreadableClip(error)
            }
            do {
                return GridSource(url: url, probe: probe, recipe: try Recipe.decode(comment: probe.comment, file: url.path))
            } catch let error as RecipeError {
                switch error {
                case .missing, .notARecipe: return GridSource(url: url, probe: probe, recipe: nil)
                case .damaged, .unsupportedSchema: throw GridError.unreadableRecipe(error)
                }
            }
        }
    }

    /// The cell size: the clips' common size, or with `fit` the largest width and height among them.
    static func cellSize(_ sources: [GridSource], fit: Bool) throws -> (width: Int, height: Int) {
        let width = sources.map(\.width).max()!, height = sources.map(\.height).max()!
        if !fit, sources.contains(where: { $0.width != width || $0.height != height }) {
            throw GridError.sizeMismatch(clips: sources.map { ($0.url.path, $0.width, $0.height) })
        }
        return (width, height)
    }
}
