import Foundation

/// Turns a sweep's cells into job specs with the CSV row validator. When something is wrong it names the
/// option and value at fault rather than a cell: a value that is wrong on its own and in every cell it
/// appears in is blamed on its option (`--vary motion_bucket_id=60,abc: motion_bucket_id 'abc' is not an
/// integer`); only problems between values (min ≤ max guidance) are reported per cell.
struct SweepSpecs {
    let design: SweepDesign
    let validator: RowValidator

    /// One value of one option, and the cells it is part of.
    private struct Suspect {
        let quoted: String
        let cells: [JobColumn: String]
        let appearsIn: (SweepDesign.Cell) -> Bool
    }

    /// Every cell's spec, in cell order; throws `SweepUsageError` listing every problem found.
    func specs() throws -> [JobSpec] {
        // The image and the model alone: if they fail, nothing else can be judged. (A model given by --set or
        // --vary is judged with the other values below; the first one stands in for it here.)
        var probe: [JobColumn: String] = [.image: design.image, .seed: "0", .name: "sweep-check"]
        if let model = (design.fixed + design.varied).first(where: { $0.column == .model }) { probe[.model] = model.values[0] }
        if case let .failure(error) = check(probe) { throw SweepUsageError(error.reasons) }
        var withFixed = probe
        for override in design.fixed { withFixed[override.column] = override.values[0] }
        let base: [JobColumn: String]
        if case .failure = check(withFixed) { base = probe } else { base = withFixed }

        let results = design.cells.map { validator.validate(design.row($0)) }
        func passes(_ cell: SweepDesign.Cell) -> Bool {
            if case .success = results[cell.line - 1] { return true } else { return false }
        }

        var problems: [String] = []
        var reported = Set<String>()   // a reason found through two suspects is reported once
        var blamed: [Suspect] = []
        for suspect in suspects(base: base, probe: probe, withFixed: withFixed) {
            guard case let .failure(error) = check(suspect.cells),
                  !design.cells.contains(where: { suspect.appearsIn($0) && passes($0) }) else { continue }
            blamed.append(suspect)
            for reason in error.reasons where reported.insert(reason).inserted {
                problems.append("\(suspect.quoted): \(reason)")
            }
        }
        var specs: [JobSpec] = []
        for (cell, result) in zip(design.cells, results) {
            switch result {
            case let .success(spec): specs.append(spec)
            case let .failure(error) where !blamed.contains(where: { $0.appearsIn(cell) }):
                let values = ["seed=\(cell.seed)"] + zip(design.varied, cell.values).map { "\($0.key)=\($1)" }
                problems.append("cell \(cell.name) (\(values.joined(separator: ", "))): \(error)")
            case .failure:
                break
            }
        }
        guard problems.isEmpty else { throw SweepUsageError(problems) }
        return specs
    }

    /// Each `--set` value (alone on the image, then all of them together), each seed and each `--vary` value
    /// (with the `--set` values when those are fine together).
    private func suspects(base: [JobColumn: String], probe: [JobColumn: String],
                          withFixed: [JobColumn: String]) -> [Suspect] {
        var fixed = design.fixed.map { override in
            Suspect(quoted: override.quoted, cells: probe.merging([override.column: override.values[0]]) { $1 },
                    appearsIn: { _ in true })
        }
        if design.fixed.count > 1 {
            fixed.append(Suspect(quoted: design.fixed.map(\.quoted).joined(separator: " "), cells: withFixed,
                                 appearsIn: { _ in true }))
        }
        let seeds = design.seeds.map { seed in
            Suspect(quoted: "--seeds \(design.seeds.joined(separator: ","))", cells: base.merging([.seed: seed]) { $1 },
                    appearsIn: { $0.seed == seed })
        }
        let varied = design.varied.enumerated().flatMap { index, override in
            override.values.map { value in
                Suspect(quoted: override.quoted, cells: base.merging([override.column: value]) { $1 },
                        appearsIn: { $0.values[index] == value })
            }
        }
        return fixed + seeds + varied
    }

    private func check(_ cells: [JobColumn: String]) -> Result<JobSpec, RowError> {
        validator.validate(JobRow(line: 0, cells: cells))
    }
}
