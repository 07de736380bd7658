import Foundation

/// Paths of the project's own test data; tests never read data from outside the repository.
public enum Fixtures {
    /// The repository root, found from this source file's location.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let directory = root.appendingPathComponent("Tests/Fixtures")
    public static let demoModel = root.appendingPathComponent("Samples/demo-model")
    public static func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }
    public static func casePath(_ caseName: String, _ file: String) -> String { path("cases/\(caseName)/\(file)") }
}
