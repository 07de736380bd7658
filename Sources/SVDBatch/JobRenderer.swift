import Foundation
import SVDCore
import SVDMedia
import SVDPipeline

/// How a rendered job ended.
struct JobOutcome {
    var status: JobStatus
    var jobKey: String
    var error: String?
    /// What the render measured, for this machine's speed figures (nil when it did not finish).
    var measured: MeasuredRender? = nil
}

/// A finished render's stage times and the seconds its clip took to encode and write (nil: nothing written).
struct MeasuredRender {
    let timings: StageTimings
    let writeSeconds: Double?
}

/// Renders one job's frames with a loaded model, the step `run`, `sweep` and `rerender` share: resumes from the
/// job's checkpoint when it continues exactly this job, saves a checkpoint after every step (a failure to save
/// is reported once and the render goes on), reports progress with ETAs, and stops at a step boundary when
/// asked (throwing `RenderStopped`). The generator is created inside the pipeline from the job's seed
/// alone, so nothing about other jobs, their order, sharding or the thread count reaches the frames.
struct FrameRenderer {
    let pipeline: VideoPipeline
    let stop: StopFlag
    let reporter: BatchReporter
    let meter: WorkMeter

    struct Job {
        /// How progress names the job.
        let name: String
        /// How the "rendering …" line names it.
        let label: String
        let parameters: VideoParameters
        let image: RGBImage
        let jobKey: String
        /// Where its state is saved after each step; nil for none (`rerender --verify`).
        let checkpoint: URL?
        let estimate: JobEstimate?
        /// Said when checkpoints cannot be saved, before ": <error>".
        let checkpointWarning: String
    }

    func render(_ job: Job, index: Int, count: Int, timings: StageTimings) throws -> (frames: VideoFrames, resumed: Bool) {
        let p = job.parameters
        let resume = job.checkpoint.flatMap { resumable($0, job: job) }
        let first = resume?.stepsDone ?? 0
        meter.jobStarted(job.estimate, stepsLeft: p.numInferenceSteps - first)
        reporter.info("\(resume == nil ? "rendering" : "resuming") \(job.label)"
            + (resume.map { " from step \($0.stepsDone)/\(p.numInferenceSteps)" } ?? "")
            + ": \(p.width)×\(p.height), \(p.numFrames) frames, \(p.numInferenceSteps) steps, seed \(p.seed)"
            + (meter.current.map { ", about \(DurationText.text($0.total * meter.correction))" } ?? ""))
        reporter.jobStarted(name: job.name, index: index, count: count, firstStep: first,
                            totalSteps: p.numInferenceSteps, batch: meter.progress)
        defer { reporter.jobEnded() }
        var warned = false
        return (try pipeline.render(image: job.image, parameters: p, resumeFrom: resume, timings: timings) { progress in
            if let file = job.checkpoint {
                do {
                    try CheckpointFile(jobKey: job.jobKey, totalSteps: progress.totalSteps, checkpoint: progress.checkpoint)
                        .write(to: file)
                } catch {
                    if !warned { reporter.warning("\(job.checkpointWarning): \(error)") }
                    warned = true
                }
            }
            meter.stepFinished(seconds: progress.seconds)
            reporter.stepFinished(StepReport(name: job.name, step: progress.step, totalSteps: progress.totalSteps,
                                             stepSeconds: progress.seconds,
                                             jobETA: meter.jobETA(stepsLeft: progress.totalSteps - progress.step),
                                             batch: meter.progress))
            if stop.requested != nil { throw RenderStopped(step: progress.step, totalSteps: progress.totalSteps) }
        }, resume != nil)
    }

    /// The job's checkpoint, if the state file holds one of this job; a state of another job or a damaged one
    /// is ignored (and replaced by the first step).
    private func resumable(_ url: URL, job: Job) -> DenoisingCheckpoint? {
        do {
            guard let state = try CheckpointFile.read(url) else { return nil }
            if let why = state.mismatch(jobKey: job.jobKey, totalSteps: job.parameters.numInferenceSteps) {
                reporter.info("\(job.label): starting over, not resuming from \(url.lastPathComponent): \(why)")
                return nil
            }
            return state.checkpoint
        } catch {
            reporter.warning("\(error)")
            return nil
        }
    }
}

/// Receives a job's frames and the seconds they took to render.
typealias FramesHook = (PlannedJob, [RGBImage], Double) -> Void

/// A stop signal ended a render at the boundary after `step`.
struct RenderStopped: Error {
    let step: Int
    let totalSteps: Int
}

/// Renders one planned job with a loaded model (`FrameRenderer`), hands the frames to `framesRendered`, and
/// publishes the frames (optionally) and the clip atomically, recipe inside; a `.verify` job publishes nothing.
struct JobRenderer {
    let frames: FrameRenderer
    let saveFrames: Bool
    /// `--force`: a frames folder in the way is replaced too.
    let force: Bool
    /// Sees every job's frames before they are written, with the seconds they took (`rerender --verify`).
    let framesRendered: FramesHook?
    var reporter: BatchReporter { frames.reporter }

    func render(_ job: PlannedJob, estimate: JobEstimate?, index: Int, count: Int) -> JobOutcome {
        let spec = job.spec, p = spec.parameters
        var key = job.jobKey
        do {
            // The input is read again: it may have changed since planning, and then so has the job key.
            let (input, image) = try InputRecord.read(name: spec.imageName, url: URL(fileURLWithPath: spec.input.path))
            let parameters = RenderParameters(p)
            key = try Recipe.jobKey(modelSHA256: job.model.fingerprint.sha256, inputPixelsSHA256: input.pixelsSHA256,
                                    parameters: parameters, encoder: spec.encoder)
            let timings = StageTimings()
            let start = Date()
            let rendered = try frames.render(
                FrameRenderer.Job(name: spec.name, label: spec.outputFileName + (spec.line > 0 ? " (line \(spec.line))" : ""),
                                  parameters: p, image: image, jobKey: key, checkpoint: job.checkpoint, estimate: estimate,
                                  checkpointWarning: "\(spec.outputFileName): cannot save checkpoints, so an interruption would lose this job's progress"),
                index: index, count: count, timings: timings)

            let images = (0..<rendered.frames.count).map { rendered.frames.frame($0) }
            framesRendered?(job, images, Date().timeIntervalSince(start))
            if job.decision == .verify {
                return JobOutcome(status: .rendered, jobKey: key, measured: MeasuredRender(timings: timings, writeSeconds: nil))
            }
            let recipe = try Recipe(model: job.model, input: input, parameters: parameters, encoder: spec.encoder,
                                    framesSHA256: Digests.sha256Hex(frames: images), diagnostics: .current,
                                    derivedFrom: job.variation?.derivedFrom, changes: job.variation?.changes)
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
                    return JobOutcome(status: .conflict, jobKey: key,
                                      error: "\(reason), and appeared while the job rendered; it is left alone (--force replaces it)")
                }
            }
            let writeStart = Date()
            do {
                try ClipWriter.write(images, fps: p.fps, settings: spec.encoder, comment: try recipe.json(),
                                     to: job.output, overwrite: overwrite)
            } catch ClipWriteError.alreadyExists {
                return JobOutcome(status: .conflict, jobKey: key,
                                  error: "\(job.output.path) appeared while the job rendered; it is left alone (--force replaces it)")
            }
            let writeSeconds = Date().timeIntervalSince(writeStart)
            if let checkpoint = job.checkpoint { unlink(checkpoint.path) }
            return JobOutcome(status: rendered.resumed ? .resumed : .rendered, jobKey: key, error: nil,
                              measured: MeasuredRender(timings: timings, writeSeconds: writeSeconds))
        } catch let stopped as RenderStopped {
            let kept = job.checkpoint.map { "the checkpoint \($0.lastPathComponent) is kept and the next run resumes from it" }
                ?? "nothing was saved"
            return JobOutcome(status: .interrupted, jobKey: key,
                              error: "stopped by a signal after step \(stopped.step)/\(stopped.totalSteps); \(kept)")
        } catch {
            return JobOutcome(status: .failed, jobKey: key, error: "\(error)")
        }
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
