import Foundation
import SVDCore
import SVDMedia
import SVDPipeline

/// How a rendered job ended.
struct JobOutcome {
    var status: JobStatus
    var jobKey: String
    /// Denoising steps this job did not get to (for the batch ETA).
    var remainingSteps: Int
    var error: String?
}

/// Renders one job with a loaded model: resumes from the job's own checkpoint when there is one, checkpoints
/// after every step, stops at a step boundary when asked, and publishes the frames (optionally) and the clip
/// atomically, recipe inside. The generator is created inside the pipeline from this job's seed alone, so
/// nothing about other jobs, their order, sharding or the thread count reaches the frames.
struct JobRenderer {
    let pipeline: VideoPipeline
    let saveFrames: Bool
    /// `--force`: a frames folder in the way is replaced too.
    let force: Bool
    let stop: StopFlag
    let reporter: BatchReporter
    let meter: WorkMeter

    func render(_ job: PlannedJob, index: Int, count: Int) -> JobOutcome {
        let spec = job.spec, p = spec.parameters
        var key = job.jobKey
        var stepsDone = 0
        do {
            // The input is read again: it may have changed since planning, and then so has the job key.
            let (input, image) = try InputRecord.read(name: spec.imageName, url: URL(fileURLWithPath: spec.input.path))
            let parameters = RenderParameters(p)
            key = try Recipe.jobKey(modelSHA256: job.model.fingerprint.sha256, inputPixelsSHA256: input.pixelsSHA256,
                                    parameters: parameters, encoder: spec.encoder)
            let resume = loadCheckpoint(job, jobKey: key)
            stepsDone = resume?.stepsDone ?? 0
            reporter.info("\(resume == nil ? "rendering" : "resuming") \(spec.outputFileName) (line \(spec.line))"
                + (resume.map { " from step \($0.stepsDone)/\(p.numInferenceSteps)" } ?? "")
                + ": \(p.width)×\(p.height), \(p.numFrames) frames, \(p.numInferenceSteps) steps, seed \(p.seed)")
            reporter.jobStarted(name: spec.name, index: index, count: count, firstStep: stepsDone,
                                totalSteps: p.numInferenceSteps, batch: meter.progress)
            defer { reporter.jobEnded() }

            let checkpointer = StepCheckpointer(file: job.checkpoint, jobKey: key, reporter: reporter,
                                                what: "\(spec.outputFileName): cannot save checkpoints, so an interruption would lose this job's progress")
            let frames = try pipeline.render(image: image, parameters: p, resumeFrom: resume) { progress in
                stepsDone = progress.step
                let eta = checkpointer.stepFinished(progress)
                meter.stepFinished(p, seconds: progress.seconds)
                reporter.stepFinished(StepReport(name: spec.name, step: progress.step, totalSteps: progress.totalSteps,
                                                 stepSeconds: progress.seconds, jobETA: eta, batch: meter.progress))
                if stop.requested != nil { throw PipelineError.cancelled }
            }

            let images = (0..<frames.count).map { frames.frame($0) }
            let recipe = try Recipe(model: job.model, input: input, parameters: parameters, encoder: spec.encoder,
                                    framesSHA256: Digests.sha256Hex(frames: images),
                                    diagnostics: .current)
            // Frames first: a run killed between the two leaves no clip, so the job renders again and
            // rewrites them; the other order could leave an "up to date" clip with missing frames.
            var overwrite = false
            if case .replace = job.decision { overwrite = true }
            if saveFrames {
                let folder = job.output.deletingLastPathComponent().appendingPathComponent(spec.framesFolderName)
                if force, let reason = FrameFolder.problem(folder, jobKeys: [job.jobKey, key]) {
                    reporter.warning("--force: replacing \(reason)")
                }
                do {
                    try FrameFolder.write(images, jobKey: key, to: folder,
                                          replacing: Set([job.jobKey] + (job.replacesJobKey.map { [$0] } ?? [])), force: force)
                } catch let FrameFolderError.inTheWay(reason) {
                    return JobOutcome(status: .conflict, jobKey: key, remainingSteps: 0,
                                      error: "\(reason), and appeared while the job rendered; it is left alone (--force replaces it)")
                }
            }
            do {
                try ClipWriter.write(images, fps: p.fps, settings: spec.encoder, comment: try recipe.json(),
                                     to: job.output, overwrite: overwrite)
            } catch ClipWriteError.alreadyExists {
                return JobOutcome(status: .conflict, jobKey: key, remainingSteps: 0,
                                  error: "\(job.output.path) appeared while the job rendered; it is left alone (--force replaces it)")
            }
            unlink(job.checkpoint.path)
            return JobOutcome(status: resume == nil ? .rendered : .resumed, jobKey: key, remainingSteps: 0, error: nil)
        } catch PipelineError.cancelled {
            return JobOutcome(status: .interrupted, jobKey: key, remainingSteps: p.numInferenceSteps - stepsDone,
                              error: "stopped by a signal after step \(stepsDone)/\(p.numInferenceSteps); the checkpoint \(job.checkpoint.lastPathComponent) is kept and the next run resumes from it")
        } catch {
            return JobOutcome(status: .failed, jobKey: key, remainingSteps: p.numInferenceSteps - stepsDone,
                              error: "\(error)")
        }
    }

    /// This job's checkpoint, if the state file holds one; a state of another job or a damaged one is
    /// ignored (and replaced by the first step).
    private func loadCheckpoint(_ job: PlannedJob, jobKey: String) -> DenoisingCheckpoint? {
        do {
            guard let state = try CheckpointFile.read(job.checkpoint) else { return nil }
            if let why = state.mismatch(jobKey: jobKey, totalSteps: job.spec.parameters.numInferenceSteps) {
                reporter.info("\(job.spec.outputFileName): starting over, not resuming from \(job.checkpoint.lastPathComponent): \(why)")
                return nil
            }
            return state.checkpoint
        } catch {
            reporter.warning("\(error)")
            return nil
        }
    }
}

/// After every denoising step: saves the job's state (when it has a checkpoint file; a failure is reported once
/// and the render goes on) and keeps the job's step times for its ETA. Shared by batch jobs and `rerender`.
final class StepCheckpointer {
    let file: URL?
    let jobKey: String
    let reporter: BatchReporter
    /// The warning's text before ": <error>".
    let what: String
    private var warned = false
    private var seconds = 0.0
    private var steps = 0

    init(file: URL?, jobKey: String, reporter: BatchReporter, what: String) {
        self.file = file
        self.jobKey = jobKey
        self.reporter = reporter
        self.what = what
    }

    /// Saves the checkpoint of `progress` and returns the job's estimated seconds left.
    func stepFinished(_ progress: StepProgress) -> Double {
        if let file {
            do {
                try CheckpointFile(jobKey: jobKey, totalSteps: progress.totalSteps, checkpoint: progress.checkpoint).write(to: file)
            } catch {
                if !warned { reporter.warning("\(what): \(error)") }
                warned = true
            }
        }
        seconds += progress.seconds
        steps += 1
        return Double(progress.totalSteps - progress.step) * seconds / Double(steps)
    }
}

/// `NAME_frames/frame_0000.png`, …: written into a hidden `.NAME_frames.tmp-PID` folder next to it (with a
/// `.svdbatch-job` file holding the job key) and renamed into place whole, so a folder never mixes frames of
/// two renders. An existing folder is replaced only when it is this job's own earlier output or `force` is set.
enum FrameFolder {
    static let markerFileName = ".svdbatch-job"

    static func fileName(_ index: Int) -> String { String(format: "frame_%04d.png", index) }

    static func temporaryURL(for folder: URL) -> URL { AtomicFile.temporaryURL(for: folder) }

    /// Where the previous folder waits while the new one is renamed into place: `.NAME_frames.old.tmp-PID`.
    static func asideURL(for folder: URL) -> URL {
        AtomicFile.temporaryURL(for: folder.deletingLastPathComponent().appendingPathComponent(folder.lastPathComponent + ".old"))
    }

    /// The job key recorded in an existing frames folder, if it is one written by svdbatch.
    static func recordedJobKey(_ folder: URL) -> String? {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(markerFileName)) else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// nil when nothing is at `folder` or it is a frames folder of one of `jobKeys`; otherwise why it is in the way.
    static func problem(_ folder: URL, jobKeys: Set<String>) -> String? {
        var info = stat()
        guard lstat(folder.path, &info) == 0 else { return nil }
        guard info.st_mode & S_IFMT == S_IFDIR else { return "\(folder.path) exists and is not a folder" }
        guard let recorded = recordedJobKey(folder) else {
            return "\(folder.path) exists and was not written by svdbatch for this job (no \(markerFileName) in it)"
        }
        guard jobKeys.contains(recorded) else {
            return "\(folder.path) holds frames of a different job (job_key \(recorded.prefix(12))…)"
        }
        return nil
    }

    /// Writes the frames and publishes the folder. Throws `FrameFolderError.inTheWay` (leaving everything
    /// alone) when something not allowed to be replaced is at `folder`.
    static func write(_ frames: [RGBImage], jobKey: String, to folder: URL, replacing allowedKeys: Set<String>,
                      force: Bool) throws {
        let fm = FileManager.default
        let temp = temporaryURL(for: folder), aside = asideURL(for: folder)
        try? fm.removeItem(at: temp)   // removes a link planted there, not what it points to
        // A new folder, opened without following a link; the files are created inside the opened folder, so
        // they land in it even if its name is swapped for a link meanwhile.
        guard mkdir(temp.path, 0o755) == 0 else { throw FileWriteError.current(path: temp.path, step: "creating the folder") }
        var published = false
        defer { if !published { try? fm.removeItem(at: temp) } }
        let directory = open(temp.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { throw FileWriteError.current(path: temp.path, step: "opening the folder") }
        defer { close(directory) }
        func write(_ data: Data, _ name: String) throws {
            try AtomicFile.writeNew(data, named: name, in: directory, reportAs: folder.appendingPathComponent(name).path)
        }
        for (i, frame) in frames.enumerated() { try write(Data(try PNGWriter.encode(frame)), fileName(i)) }
        try write(Data((jobKey + "\n").utf8), markerFileName)

        var info = stat()
        var movedAside = false
        if lstat(folder.path, &info) == 0 {
            if !force, let reason = problem(folder, jobKeys: allowedKeys.union([jobKey])) {
                throw FrameFolderError.inTheWay(reason)
            }
            try? fm.removeItem(at: aside)
            guard rename(folder.path, aside.path) == 0 else {
                throw FrameFolderError.failed(path: folder.path, reason: "moving the old folder aside: \(String(cString: strerror(errno)))")
            }
            movedAside = true
        }
        guard rename(temp.path, folder.path) == 0 else {
            let reason = String(cString: strerror(errno))
            if movedAside { _ = rename(aside.path, folder.path) }
            throw FrameFolderError.failed(path: folder.path, reason: "renaming \(temp.lastPathComponent) into place: \(reason)")
        }
        published = true
        AtomicFile.syncDirectory(of: folder)
        if movedAside { try? fm.removeItem(at: aside) }
    }
}

enum FrameFolderError: Error, CustomStringConvertible {
    case inTheWay(String)
    case failed(path: String, reason: String)

    var description: String {
        switch self {
        case let .inTheWay(reason): return reason
        case let .failed(path, reason): return "\(path): \(reason)"
        }
    }
}
