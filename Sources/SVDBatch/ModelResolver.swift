import Foundation

/// Where a model reference led.
public struct ResolvedModel: Hashable, Sendable {
    public enum Source: String, Sendable {
        case folder
        case huggingFaceCache = "Hugging Face cache"
        case environment = "SVDBATCH_MODEL"
        case demo = "bundled demo model"
    }

    /// The model as the user named it (a folder or a repository id); recipes record this.
    public let name: String
    /// The diffusers-format folder, absolute, symlinks resolved.
    public let folder: URL
    public let source: Source
}

public enum ModelResolutionError: Error, CustomStringConvertible, Equatable {
    case notFound(reference: String, tried: [String])
    case snapshotMissing(repo: String, detail: String)
    case noDefaultModel(searched: [String])

    public var description: String {
        switch self {
        case let .notFound(reference, tried):
            return "model '\(reference)' not found; looked for \(tried.joined(separator: ", then ")). Give a diffusers model folder, or a Hugging Face repository id already downloaded to the local cache (nothing is ever downloaded)"
        case let .snapshotMissing(repo, detail):
            return "model '\(repo)' is in the Hugging Face cache but unusable: \(detail); download it again, e.g. `huggingface-cli download \(repo)`"
        case let .noDefaultModel(searched):
            return "no model given and the bundled demo model is missing (looked in \(searched.joined(separator: ", "))); pass --model DIR|REPO_ID, add a model column, or set SVDBATCH_MODEL"
        }
    }
}

/// Turns model references into folders, offline: an existing folder, else a repository id looked up in the
/// local Hugging Face cache (the snapshot `refs/main` names). Without a reference: `SVDBATCH_MODEL`, else the
/// demo model in the source tree's `Samples/`.
public struct ModelResolver: Sendable {
    public let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// - Parameter base: the folder a relative path is taken from (the CSV's folder for the `model` column,
    ///   the working directory for `--model` and `SVDBATCH_MODEL`).
    public func resolve(_ reference: String, relativeTo base: URL, source: ResolvedModel.Source = .folder) throws -> ResolvedModel {
        let candidate = reference.hasPrefix("/") ? URL(fileURLWithPath: reference)
                                                 : base.appendingPathComponent(reference)
        var tried = ["folder \(candidate.standardizedFileURL.path)"]
        if Self.isDirectory(candidate) {
            return ResolvedModel(name: reference, folder: Self.canonical(candidate), source: source)
        }
        if Self.looksLikeRepoID(reference) {
            let hub = hubCache
            let repoFolder = hub.appendingPathComponent("models--" + reference.replacingOccurrences(of: "/", with: "--"))
            tried.append("Hugging Face cache entry \(repoFolder.path)")
            if Self.isDirectory(repoFolder) {
                let snapshot = try Self.mainSnapshot(repoFolder, repo: reference)
                return ResolvedModel(name: reference, folder: Self.canonical(snapshot),
                                     source: source == .folder ? .huggingFaceCache : source)
            }
        }
        throw ModelResolutionError.notFound(reference: reference, tried: tried)
    }

    /// The model used when neither `--model` nor the row names one.
    public func resolveDefault(workingDirectory: URL) throws -> ResolvedModel {
        if let configured = environment["SVDBATCH_MODEL"], !configured.isEmpty {
            return try resolve(configured, relativeTo: workingDirectory, source: .environment)
        }
        let candidates = Self.demoModelCandidates()
        for folder in candidates where FileManager.default.fileExists(atPath: folder.appendingPathComponent("model_index.json").path) {
            return ResolvedModel(name: folder.path, folder: Self.canonical(folder), source: .demo)
        }
        throw ModelResolutionError.noDefaultModel(searched: candidates.map(\.path))
    }

    /// `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    public var hubCache: URL {
        if let hub = environment["HF_HUB_CACHE"], !hub.isEmpty { return URL(fileURLWithPath: hub) }
        if let home = environment["HF_HOME"], !home.isEmpty { return URL(fileURLWithPath: home).appendingPathComponent("hub") }
        let userHome = environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        return userHome.appendingPathComponent(".cache/huggingface/hub")
    }

    /// `owner/name` or a bare `name` made of the characters the Hub allows.
    static func looksLikeRepoID(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && !part.hasPrefix(".") && !part.contains("..")
                && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        }
    }

    static func mainSnapshot(_ repoFolder: URL, repo: String) throws -> URL {
        let ref = repoFolder.appendingPathComponent("refs/main")
        guard let text = try? String(contentsOf: ref, encoding: .utf8) else {
            throw ModelResolutionError.snapshotMissing(repo: repo, detail: "\(ref.path) is missing, so no snapshot is marked as main")
        }
        let revision = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !revision.isEmpty, !revision.contains("/"), revision != ".." else {
            throw ModelResolutionError.snapshotMissing(repo: repo, detail: "\(ref.path) does not hold a revision")
        }
        let snapshot = repoFolder.appendingPathComponent("snapshots").appendingPathComponent(revision)
        guard isDirectory(snapshot) else {
            throw ModelResolutionError.snapshotMissing(repo: repo, detail: "refs/main names revision \(revision) but \(snapshot.path) does not exist")
        }
        return snapshot
    }

    /// `Samples/demo-model` in the source tree, found upward from the running executable's real location
    /// (so cron, which starts in $HOME, finds it too), then next to an installed `bin/` as
    /// `share/svdbatch/demo-model`, then from where this file was compiled.
    static func demoModelCandidates() -> [URL] {
        var candidates: [URL] = []
        if let exe = executablePath() {
            var folder = exe.deletingLastPathComponent()
            candidates.append(folder.deletingLastPathComponent().appendingPathComponent("share/svdbatch/demo-model"))
            while folder.path != "/" {
                candidates.append(folder.appendingPathComponent("Samples/demo-model"))
                folder = folder.deletingLastPathComponent()
            }
        }
        let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(sourceRoot.appendingPathComponent("Samples/demo-model"))
        var seen = Set<String>()
        return candidates.filter { seen.insert($0.standardizedFileURL.path).inserted }
    }

    static func executablePath() -> URL? {
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: link)
        }
        return Bundle.main.executableURL.map { canonical($0) }
    }

    static func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    static func canonical(_ url: URL) -> URL { url.standardizedFileURL.resolvingSymlinksInPath() }
}
