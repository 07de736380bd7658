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
    let stop: StopFlag
    let reporter: BatchReporter
    let meter: WorkMeter

    func render(_ job: PlannedJob, index: Int, count: Int) -> JobOutcome {
        let spec = job.spec, p = spec.parameters
        var key = job.jobKey
        var stepsDone = 0
        do {
            // The input is read again: it may have changed since planning, and then so has the job key.
            let image = try ImageInput.load(path: spec.input.path)
            let input = try InputRecord(name: spec.imageName, url: URL(fileURLWithPath: spec.input.path), image: image)
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

            var checkpointWarning = false
            var jobSeconds = 0.0, jobSteps = 0
            let frames = try pipeline.render(image: image, parameters: p, resumeFrom: resume) { progress in
                stepsDone = progress.step
                do {
                    try CheckpointFile(jobKey: key, totalSteps: progress.totalSteps, checkpoint: progress.checkpoint)
                        .write(to: job.checkpoint)
                } catch {
                    if !checkpointWarning {
                        reporter.warning("\(spec.outputFileName): cannot save checkpoints, so an interruption would lose this job's progress: \(error)")
                    }
                    checkpointWarning = true
                }
                meter.stepFinished(p, seconds: progress.seconds)
                jobSeconds += progress.seconds
                jobSteps += 1
                let eta = Double(progress.totalSteps - progress.step) * jobSeconds / Double(jobSteps)
                reporter.stepFinished(StepReport(name: spec.name, step: progress.step, totalSteps: progress.totalSteps,
                                                 stepSeconds: progress.seconds, jobETA: eta, batch: meter.progress))
                if stop.requested != nil { throw PipelineError.cancelled }
            }

            let images = (0..<frames.count).map { frames.frame($0) }
            let recipe = try Recipe(model: job.model, input: input, parameters: parameters, encoder: spec.encoder,
                                    framesSHA256: Digests.sha256Hex(frames: images),
                                    diagnostics: .current(threads: Parallel.workerCount))
            // Frames first: a run killed between the two leaves no clip, so the job renders again and
            // rewrites them; the other order could leave an "up to date" clip with missing frames.
            if saveFrames {
                try FrameFolder.write(images, to: job.output.deletingLastPathComponent().appendingPathComponent(spec.framesFolderName))
            }
            var overwrite = false
            if case .replace = job.decision { overwrite = true }
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

/// `NAME_frames/frame_0000.png`, …, each written atomically.
enum FrameFolder {
    static func fileName(_ index: Int) -> String { String(format: "frame_%04d.png", index) }

    static func write(_ frames: [RGBImage], to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (i, frame) in frames.enumerated() {
            try AtomicFile.write(Data(try PNGWriter.encode(frame)), to: folder.appendingPathComponent(fileName(i)))
        }
    }
}
