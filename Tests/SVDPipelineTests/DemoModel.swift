import SVDModels
import TestSupport
import SVDPipeline

/// The bundled demo model (the reference tiny model), loaded once per test process.
enum DemoModel {
    nonisolated(unsafe) private static var cached: VideoModel?

    static func load() throws -> VideoModel {
        if let cached { return cached }
        let model = try VideoModel(directory: ModelDirectory(url: Fixtures.demoModel))
        cached = model
        return model
    }
}
