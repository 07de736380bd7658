import Foundation
import SVDCore
import SVDMedia
import SVDModels

/// Finds a model whose fingerprint (SHA-256 of every config and weight file loaded) is the recipe's:
/// `--model` if given (and nothing else), else the recorded name from the working directory and from the
/// clip's folder (or the Hugging Face cache, for a repository id), then `SVDBATCH_MODEL`, then the bundled
/// demo model, so that a clip made with the demo model verifies on another checkout in another place.
struct RerenderModelMatch {
    let recorded: ModelRecord
    let explicit: String?
    let workingDirectory: URL
    let clipFolder: URL
    let resolver: ModelResolver
    let catalog: ModelCatalog

    struct Found {
        let facts: ModelFacts
        let notes: [String]
    }

    func find() throws -> Found {
        var searched: [SearchedPlace] = []
        var seen = Set<String>()
        for (place, resolve) in candidates() {
            let model: ResolvedModel
            do { model = try resolve() } catch {
                // A plain "not found" reads better in the list than the resolver's full search report.
                if case ModelResolutionError.snapshotMissing = error { searched.append(SearchedPlace(place, "\(error)")) } else {
                    searched.append(SearchedPlace(place, "not found"))
                }
                continue
            }
            guard seen.insert(model.location.path).inserted else { continue }
            let label = "\(place) (\(model.location.path))"
            let facts: ModelFacts
            let fingerprint: ModelFingerprint
            do {
                facts = try catalog.facts(for: model)
                fingerprint = try catalog.fingerprint(of: facts)
            } catch {
                searched.append(SearchedPlace(label, "unusable: \(error)"))
                continue
            }
            guard fingerprint.sha256 == recorded.fingerprint.sha256 else {
                let differences = Self.differences(recorded: recorded.fingerprint, found: fingerprint)
                searched.append(SearchedPlace(label, "fingerprint differs: " + differences.joined(separator: "; ")))
                continue
            }
            var notes = facts.notes.map { "model \(model.name): \($0)" }
            if model.name != recorded.name { notes.append("model found at \(model.location.path) (\(place)); the recipe recorded '\(recorded.name)'") }
            return Found(facts: facts, notes: notes)
        }
        throw RerenderError.modelMismatch(recorded: recorded, searched: searched)
    }

    private func candidates() -> [(String, () throws -> ResolvedModel)] {
        if let explicit {
            return [("--model \(explicit)", { try resolver.resolve(explicit, relativeTo: workingDirectory) })]
        }
        let name = recorded.name
        var list: [(String, () throws -> ResolvedModel)] = [
            ("the recorded model '\(name)'", { try resolver.resolve(name, relativeTo: workingDirectory) }),
        ]
        if !name.hasPrefix("/") {
            list.append(("'\(name)' from the clip's folder", { try resolver.resolve(name, relativeTo: clipFolder) }))
        }
        if let configured = resolver.environment["SVDBATCH_MODEL"], !configured.isEmpty {
            list.append(("SVDBATCH_MODEL", { try resolver.resolve(configured, relativeTo: workingDirectory, source: .environment) }))
        }
        list.append(("the bundled demo model", {
            let index = ModelDirectory.modelIndexFile
            guard let folder = ModelResolver.demoModelCandidates().first(where: {
                FileManager.default.fileExists(atPath: $0.appendingPathComponent(index).path)
            }) else { throw ModelResolutionError.noDefaultModel(searched: []) }
            return ResolvedModel(name: folder.path, location: ModelResolver.canonical(folder), source: .demo)
        }))
        return list
    }

    /// The files whose digests differ, or that only one side has, e.g.
    /// "vae/diffusion_pytorch_model.safetensors (recipe 5f7a9019…, here 1c2d3e4f…)".
    static func differences(recorded: ModelFingerprint, found: ModelFingerprint) -> [String] {
        let names = Set(recorded.files.keys).union(found.files.keys).sorted()
        return names.compactMap { name in
            switch (recorded.files[name], found.files[name]) {
            case let (was?, now?) where was != now: return "\(name) (recipe \(was.prefix(8))…, here \(now.prefix(8))…)"
            case (_?, nil): return "\(name) (in the recipe, not loaded here)"
            case (nil, _?): return "\(name) (loaded here, not in the recipe)"
            default: return nil
            }
        }
    }
}
