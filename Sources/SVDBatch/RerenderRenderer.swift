import Foundation
import SVDCore
import SVDMedia
import SVDModels
import SVDPipeline

/// Renders a rerender's job: loads its model and renders with `FrameRenderer`, as a batch job is rendered.
/// When a clip is going to be written, the job's checkpoint is kept after every step (`.NAME.state` next to
/// the clip, as the batch does) so an interrupted rerender resumes when run again. A `--verify` render stays
/// in memory and writes nothing.
struct RerenderRenderer {
    let reporter: BatchReporter
    let stop: StopFlag
    let calibration: SpeedCalibration

    struct Rendered {
        let frames: [RGBImage]
        let seconds: Double
    }

    func render(_ job: RerenderJob, image: RGBImage, checkpoint: URL?) throws -> Rendered {
        let spec = job.spec, facts = spec.model
        let loadStart = Date()
        reporter.info("loading model \(facts.model.name) (\(facts.loadedVariant) weights)")
        let pipeline = VideoPipeline(model: try VideoModel(directory: ModelDirectory(url: facts.model.location, variant: facts.variant)))
        let loadSeconds = Date().timeIntervalSince(loadStart)
        reporter.info("model loaded in \(DurationText.text(loadSeconds)); \(Parallel.workerCount) engine threads")

        let rates = calibration.rates(for: facts, reporter: reporter, measure: {
            try SpeedProbe.measure(facts, pipeline: pipeline, loadSeconds: loadSeconds)
        })
        // Every step; `FrameRenderer` leaves out the ones a checkpoint already holds.
        let estimate = rates?.estimate(facts.work(spec.parameters), stepsLeft: spec.parameters.numInferenceSteps,
                                       format: spec.format)
        let meter = WorkMeter(estimates: [estimate], loadSeconds: 0)
        let start = Date()
        let timings = StageTimings()
        let rendered = try FrameRenderer(pipeline: pipeline, stop: stop, reporter: reporter, meter: meter).render(
            FrameRenderer.Job(name: spec.name, label: spec.name, parameters: spec.parameters, image: image, jobKey: job.jobKey,
                              checkpoint: checkpoint, estimate: estimate,
                              checkpointWarning: "cannot save checkpoints, so an interruption would lose this render's progress"),
            index: 1, count: 1, timings: timings)
        return Rendered(frames: (0..<rendered.frames.count).map { rendered.frames.frame($0) },
                        seconds: Date().timeIntervalSince(start))
    }
}
