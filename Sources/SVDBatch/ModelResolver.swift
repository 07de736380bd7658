import Foundation

/// Where a model reference led.
public struct ResolvedModel: Hashable, Sendable {
    public enum Source: String, Sendable {
        case folder
        case huggingFaceCache = "Hugging Face cache"
        case environment = "SVDBATCH_MODEL"
        case demo = "bundled demo model"
    }

    /// The model as the user named it (a folder, a checkpoint file or a repository id); recipes record this.
    public let name: String
    /// The diffusers-format folder or the single checkpoint file, absolute, symlinks resolved.
    public let location: URL
    public let source: Source
}

public enum ModelResolutionError: Error, CustomStringConvertible, Equatable {
    case notFound(reference: String, tried: [String])
    case snapshotMissing(repo: String, detail: String)
    case noDefaultModel(searched: [String])
    case unattendedWithoutModel
    case notInCache(repo: String, folder: String, cache: String)

    public var description: String {
        switch self {
        case let .notFound(reference, tried):
            return "model '\(reference)' not found; looked for \(tried.joined(separator: ", then ")). Give a diffusers model folder, a single-file checkpoint (svd_xt.safetensors and the like), or a Hugging Face repository id already downloaded to the local cache (nothing is ever downloaded)"
        case let .snapshotMissing(repo, detail):
            return "model '\(repo)' is in the Hugging Face cache but unusable: \(detail); download it again, e.g. `huggingface-cli download \(repo)`"
        case let .noDefaultModel(searched):
            return "no model given and the bundled demo model is missing (looked in \(searched.joined(separator: ", "))); pass --model DIR|REPO_ID, add a model column, or set SVDBATCH_MODEL"
        case let .notInCache(repo, folder, cache):
            return "model '\(repo)' is not a folder here (\(folder)) nor in the local Hugging Face cache (no \(cache)); svdbatch never downloads. " + ModelDownloadHelp.text(repo: repo)
        case .unattendedWithoutModel:
            return "no model given, and no terminal to say so on: an unattended run (cron, a script, a pipe) never falls back to the bundled demo model, whose random weights would fill the night with noise. Pass --model DIR|REPO_ID, add a model column, or set SVDBATCH_MODEL (cron does not read your shell's profile: set it in the crontab); --model demo or SVDBATCH_MODEL=demo renders with the demo model on purpose"
        }
    }
}

/// How to fetch a model svdbatch can load: only the files it reads, in the fp16 variant (half the disk;
/// computation is float32 either way), after accepting the model's licence.
public enum ModelDownloadHelp {
    /// The files of a diffusers SVD repository that svdbatch loads, as `huggingface-cli download --include`
    /// patterns (fnmatch, where `*` also matches `/`): the configs and the fp16 weights, not the single-file
    /// checkpoints beside them.
    public static let includePatterns = ["model_index.json", "*config.json", "*.fp16.safetensors"]

    public static func command(repo: String) -> String {
        "huggingface-cli download \(repo) --include " + includePatterns.map { "'\($0)'" }.joined(separator: " ")
    }

    public static func text(repo: String) -> String {
        // One line, so that a log grep for ' error:' finds all of it.
        var lines = ["To fetch what svdbatch needs (about 4.5 GB for SVD or SVD-XT in fp16; pip install -U huggingface_hub for the command): " + command(repo: repo) + "."]
        if repo.lowercased().hasPrefix("stabilityai/") {
            lines.append("Stability AI's models are gated: first accept the licence on https://huggingface.co/\(repo) while logged in, then run `huggingface-cli login` with an access token of that account.")
        }
        lines.append("Or pass --model with a folder in diffusers layout, or a single-file checkpoint such as svd_xt.safetensors.")
        return lines.joined(separator: " ")
    }
}

/// Turns model references into folders, offline: `demo` is the bundled demo model; otherwise an existing
/// folder, else a repository id looked up in the local Hugging Face cache (the snapshot `refs/main` names).
/// Without a reference: `SVDBATCH_MODEL`, else, only when someone is at a terminal, the demo model.
public struct ModelResolver: Sendable {
    /// The reference that names the bundled demo model (a folder named so is `./demo`).
    public static let demoKeyword = "demo"

    public let environment: [String: String]
    /// Whether a person is at a terminal (standard input or error is one) to see that the demo model stands
    /// in for a missing model; unattended runs get an error instead.
    public let attended: Bool

    public init(environment: [String: String], attended: Bool = true) {
        self.environment = environment
        self.attended = attended
    }

    /// - Parameter base: the folder a relative path is taken from (the CSV's folder for the `model` column,
    ///   the working directory for `--model` and `SVDBATCH_MODEL`).
    public func resolve(_ reference: String, relativeTo base: URL, source: ResolvedModel.Source = .folder) throws -> ResolvedModel {
        if reference == Self.demoKeyword { return try demoModel() }
        let candidate = reference.hasPrefix("/") ? URL(fileURLWithPath: reference)
                                                 : base.appendingPathComponent(reference)
        var tried = ["folder or checkpoint file \(candidate.standardizedFileURL.path)"]
        // Any other existing path is handed on, so that loading it says what it is (a FIFO, a damaged file).
        if FileManager.default.fileExists(atPath: candidate.path) {
            return ResolvedModel(name: reference, location: Self.canonical(candidate), source: source)
        }
        if Self.looksLikeRepoID(reference) {
            let hub = hubCache
            let repoFolder = hub.appendingPathComponent("models--" + reference.replacingOccurrences(of: "/", with: "--"))
            tried.append("Hugging Face cache entry \(repoFolder.path)")
            if Self.isDirectory(repoFolder) {
                let snapshot = try Self.mainSnapshot(repoFolder, repo: reference)
                return ResolvedModel(name: reference, location: Self.canonical(snapshot),
                                     source: source == .folder ? .huggingFaceCache : source)
            }
            if reference.contains("/") {
                throw ModelResolutionError.notInCache(repo: reference, folder: candidate.standardizedFileURL.path, cache: repoFolder.path)
            }
        }
        throw ModelResolutionError.notFound(reference: reference, tried: tried)
    }

    /// The model used when neither `--model` nor the row names one.
    public func resolveDefault(workingDirectory: URL) throws -> ResolvedModel {
        if let configured = environment["SVDBATCH_MODEL"], !configured.isEmpty {
            return try resolve(configured, relativeTo: workingDirectory, source: .environment)
        }
        guard attended else { throw ModelResolutionError.unattendedWithoutModel }
        return try demoModel()
    }

    /// The bundled demo model.
    public func demoModel() throws -> ResolvedModel {
        let candidates = Self.demoModelCandidates()
        for folder in candidates where FileManager.default.fileExists(atPath: folder.appendingPathComponent("model_index.json").path) {
            return ResolvedModel(name: folder.path, location: Self.canonical(folder), source: .demo)
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
