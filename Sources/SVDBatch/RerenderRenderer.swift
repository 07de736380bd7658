import Foundation
import SVDCore
import SVDMedia
import SVDModels
import SVDPipeline

/// Renders a rerender's job: loads its model, reports progress like a batch job, stops at the next step
/// boundary when asked, and, when a clip is going to be written, keeps the job's checkpoint after every step
/// (`.NAME.state` next to the clip, as the batch does) so an interrupted rerender resumes when run again.
/// A `--verify` render stays in memory and writes nothing.
struct RerenderRenderer {
    let reporter: BatchReporter
    let stop: StopFlag

    struct Rendered {
        let frames: [RGBImage]
        let seconds: Double
    }

    func render(_ job: RerenderJob, image: RGBImage, checkpoint: URL?) throws -> Rendered {
        let spec = job.spec, p = spec.parameters
        let facts = spec.model
        let loadStart = Date()
        reporter.info("loading model \(facts.model.name) (\(facts.loadedVariant) weights)")
        let pipeline = VideoPipeline(model: try VideoModel(directory: ModelDirectory(url: facts.model.location, variant: facts.variant)))
        reporter.info("model loaded in \(DurationText.text(Date().timeIntervalSince(loadStart)))")

        let resume = checkpoint.flatMap { resumable($0, jobKey: job.jobKey, totalSteps: p.numInferenceSteps) }
        let first = resume?.stepsDone ?? 0
        reporter.info("\(resume == nil ? "rendering" : "resuming") \(spec.name)"
            + (resume.map { " from step \($0.stepsDone)/\(p.numInferenceSteps)" } ?? "")
            + ": \(p.width)×\(p.height), \(p.numFrames) frames, \(p.numInferenceSteps) steps, seed \(p.seed), \(Parallel.workerCount) engine threads")
        reporter.jobStarted(name: spec.name, index: 1, count: 1, firstStep: first, totalSteps: p.numInferenceSteps,
                            batch: BatchProgress(jobsDone: 0, jobsTotal: 1, fraction: 0, eta: nil))
        defer { reporter.jobEnded() }

        let start = Date()
        let checkpointer = StepCheckpointer(file: checkpoint, jobKey: job.jobKey, reporter: reporter,
                                            what: "cannot save checkpoints, so an interruption would lose this render's progress")
        let frames = try pipeline.render(image: image, parameters: p, resumeFrom: resume) { progress in
            let eta = checkpointer.stepFinished(progress)
            let fraction = Double(progress.step) / Double(progress.totalSteps)
            reporter.stepFinished(StepReport(name: spec.name, step: progress.step, totalSteps: progress.totalSteps,
                                             stepSeconds: progress.seconds, jobETA: eta,
                                             batch: BatchProgress(jobsDone: 0, jobsTotal: 1, fraction: fraction, eta: eta)))
            if stop.requested != nil { throw PipelineError.cancelled }
        }
        return Rendered(frames: (0..<frames.count).map { frames.frame($0) }, seconds: Date().timeIntervalSince(start))
    }

    /// The checkpoint at `url` if it continues exactly this job here; anything else is ignored (and replaced
    /// by the first step).
    private func resumable(_ url: URL, jobKey: String, totalSteps: Int) -> DenoisingCheckpoint? {
        do {
            guard let state = try CheckpointFile.read(url) else { return nil }
            if let why = state.mismatch(jobKey: jobKey, totalSteps: totalSteps) {
                reporter.info("not resuming from \(url.lastPathComponent): \(why)")
                return nil
            }
            return state.checkpoint
        } catch {
            reporter.warning("\(error)")
            return nil
        }
    }
}
