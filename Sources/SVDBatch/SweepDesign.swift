import Foundation
import SVDCore

/// The shape of a sweep: seeds across, combinations of the varied values down (the first `--vary` key
/// changing slowest), and each cell's name and job-list row. Pure bookkeeping: values are checked later by
/// `SweepSpecs`, through the same `RowValidator` as CSV rows.
struct SweepDesign {
    /// Keys a sweep takes neither with `--set` nor with `--vary`, and why.
    static let refused: [JobColumn: String] = [
        .image: "the image is the sweep's first argument",
        .seed: "seeds are the grid's columns; give them with --seeds",
        .name: "cell names are made from the image, the seed and the varied values",
    ]

    struct Cell {
        /// 1-based, row-major: what the manifest's `line` and messages call the cell.
        let line: Int
        let row: Int
        let column: Int
        /// The seed as typed.
        let seed: String
        /// One value per varied key, in `--vary` order.
        let values: [String]
        let name: String
    }

    /// The image as typed (recorded in recipes as the input's name, like a CSV cell).
    let image: String
    /// As typed, in order.
    let seeds: [String]
    let varied: [ParameterOverride]
    let fixed: [ParameterOverride]
    let cells: [Cell]
    /// One list of values per grid row.
    let combinations: [[String]]

    /// Reads `--seeds`, `--vary` and `--set`; throws `SweepUsageError` listing every malformed one.
    init(_ options: SweepOptions) throws {
        var problems: [String] = []
        let seedTexts = options.seeds.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if seedTexts.contains(where: \.isEmpty) {
            problems.append("--seeds \(options.seeds): an empty seed; give decimal integers separated by commas, e.g. --seeds 1,2,3")
        }
        var seenSeeds: [String: String] = [:]
        for text in seedTexts where !text.isEmpty {
            // 7 and +07 are the same seed and would make the same cell name.
            let normal = Seed(parsing: text)?.text ?? text
            if let earlier = seenSeeds[normal] {
                let what = earlier == text ? "\(text) is listed twice" : "\(earlier) and \(text) are the same seed"
                problems.append("--seeds \(options.seeds): \(what); give each seed once")
            }
            seenSeeds[normal] = text
        }
        func parse(_ texts: [String], option: String, list: Bool) -> [ParameterOverride] {
            texts.compactMap { text in
                do { return try ParameterOverride.parse(text, option: option, list: list, refused: Self.refused) } catch {
                    problems.append("\(error)")
                    return nil
                }
            }
        }
        let varied = parse(options.vary, option: "--vary", list: true)
        let fixed = parse(options.set, option: "--set", list: false)
        do { try ParameterOverride.checkDistinct(varied + fixed) } catch { problems.append("\(error)") }
        for override in varied {
            // Values that differ only in characters names cannot hold (models a/m and b/m) would share files.
            let fragments = Dictionary(grouping: override.values) { ParameterOverride.nameFragment(override.column, $0) }
            for (fragment, values) in fragments.sorted(by: { $0.key < $1.key }) where values.count > 1 {
                problems.append("\(override.quoted): \(values.joined(separator: " and ")) would both name their cells '…-\(fragment)'; give values that differ in letters or digits")
            }
        }
        guard problems.isEmpty else { throw SweepUsageError(problems) }

        image = options.imagePath
        seeds = seedTexts
        self.varied = varied
        self.fixed = fixed
        combinations = varied.reduce([[]]) { partial, override in
            partial.flatMap { prefix in override.values.map { prefix + [$0] } }
        }
        let stem = URL(fileURLWithPath: image).deletingPathExtension().lastPathComponent
        var cells: [Cell] = []
        for (row, values) in combinations.enumerated() {
            for (column, seed) in seedTexts.enumerated() {
                let suffix = zip(varied, values).map { "-" + ParameterOverride.nameFragment($0.column, $1) }.joined()
                cells.append(Cell(line: cells.count + 1, row: row, column: column, seed: seed, values: values,
                                  name: "\(stem)-s\(Seed(parsing: seed)?.text ?? seed)\(suffix)"))
            }
        }
        self.cells = cells
    }

    /// The job-list row of a cell: the image, its seed and name, the fixed values and its varied values.
    func row(_ cell: Cell) -> JobRow {
        var cells: [JobColumn: String] = [.image: image, .seed: cell.seed, .name: cell.name]
        for override in fixed { cells[override.column] = override.values[0] }
        for (override, value) in zip(varied, cell.values) { cells[override.column] = value }
        return JobRow(line: cell.line, cells: cells)
    }

    /// "seed=1", … : one per grid column.
    var columnHeaders: [String] { seeds.map { "seed=\(Seed(parsing: $0)?.text ?? $0)" } }

    /// "motion_bucket_id=60\nnoise_aug_strength=0.1", … : one per grid row; nil when nothing is varied.
    var rowHeaders: [String]? {
        guard !varied.isEmpty else { return nil }
        return combinations.map { values in
            zip(varied, values).map { "\($0.key)=\($1)" }.joined(separator: "\n")
        }
    }

    /// Whether `--set` or `--vary` gives this column.
    func gives(_ column: JobColumn) -> Bool { (fixed + varied).contains { $0.column == column } }

    /// Whether cells can differ in size (the grid then letterboxes them into the largest).
    var variesSize: Bool { varied.contains { $0.column == .width || $0.column == .height } }
}
