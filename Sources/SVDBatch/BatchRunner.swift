import Foundation
import SVDCore
import SVDMedia
import SVDModels
import SVDPipeline

/// Carries out a plan under the run lock: reports rejected rows, up-to-date jobs and conflicts, then renders
/// model group after model group (one model in memory at a time), one manifest line per job.
struct BatchRunner {
    let plan: BatchPlan
    /// How messages name the job list ("jobs.csv", "sweep cat.png cell").
    let source: String
    let saveFrames: Bool
    let force: Bool
    let reporter: BatchReporter
    let stop: StopFlag
    /// nil for a run that writes nothing (`rerender --verify`); `.verify` jobs get no line either.
    let manifest: Manifest?
    let estimates: PlanEstimates
    let calibration: SpeedCalibration
    var framesRendered: FramesHook? = nil

    /// The manifest lines written, in order.
    func run() throws -> (entries: [ManifestEntry], stoppedBy: Int32?) {
        var entries: [ManifestEntry] = []
        func record(line: Int, name: String?, output: URL?, status: JobStatus, seconds: Double, key: String?,
                    error: String?, replaced: String? = nil) throws {
            let entry = ManifestEntry(csv: plan.csvPath, line: line, name: name, output: output?.path, status: status,
                                      seconds: seconds, jobKey: key, error: error, replaced: replaced)
            try manifest?.append(entry)
            entries.append(entry)
        }

        for row in plan.rejected {
            reporter.error("\(source):\(row.line): \(row)")
            try record(line: row.line, name: row.name,
                       output: row.outputFileName.map { plan.outputDirectory.appendingPathComponent($0) },
                       status: .failed, seconds: 0, key: nil, error: row.description)
        }
        for job in plan.jobs {
            switch job.decision {
            case .upToDate:
                if let checkpoint = job.checkpoint { unlink(checkpoint.path) }   // left by a run killed between publishing the clip and cleaning up
                reporter.info("\(job.spec.outputFileName) is up to date" + (job.spec.line > 0 ? " (line \(job.spec.line))" : ""))
                try record(line: job.spec.line, name: job.spec.name, output: job.output, status: .upToDate, seconds: 0,
                           key: job.jobKey, error: nil)
            case let .conflict(reason):
                reporter.error("\(job.location(in: source)): conflict: \(reason)")
                try record(line: job.spec.line, name: job.spec.name, output: job.output, status: .conflict, seconds: 0,
                           key: job.jobKey, error: reason)
            case .render, .resume, .replace, .verify:
                break
            }
        }

        let toRender = plan.jobs.filter(\.decision.renders)
        let groups = plan.jobsByModel.map { $0.filter(\.decision.renders) }.filter { !$0.isEmpty }
        let meter = WorkMeter(estimates: toRender.map { estimates.job($0) },
                              loadSeconds: groups.reduce(0) { $0 + (estimates.load($1[0].spec.model) ?? 0) })
        var index = 0
        for jobs in groups {
            if let signal = stop.requested { return (entries, signal) }
            let facts = jobs[0].spec.model
            let loadStart = Date()
            let pipeline: VideoPipeline
            do {
                reporter.info("loading model \(facts.model.name) (\(facts.loadedVariant) weights)")
                let directory = try ModelDirectory(url: facts.model.location, variant: facts.variant)
                pipeline = VideoPipeline(model: try VideoModel(directory: directory))
                let seconds = Date().timeIntervalSince(loadStart)
                meter.modelLoaded(estimated: estimates.load(facts), seconds: seconds)
                reporter.info("model loaded in \(DurationText.text(seconds))")
            } catch {
                meter.modelFailed(estimated: estimates.load(facts))
                for job in jobs {
                    index += 1
                    let message = "model \(facts.model.name) could not be loaded: \(error)"
                    reporter.error("\(job.location(in: source)): \(message)")
                    meter.jobSkipped(estimates.job(job))
                    try record(line: job.spec.line, name: job.spec.name, output: job.output, status: .failed,
                               seconds: 0, key: job.jobKey, error: message)
                }
                continue
            }
            let renderer = JobRenderer(frames: FrameRenderer(pipeline: pipeline, stop: stop, reporter: reporter, meter: meter),
                                       saveFrames: saveFrames, force: force, framesRendered: framesRendered)
            let speedKey = SpeedCalibration.key(facts)
            for job in jobs {
                if let signal = stop.requested { return (entries, signal) }
                index += 1
                var replaced: String?
                if case let .replace(reason) = job.decision {
                    replaced = reason
                    reporter.warning("replacing \(job.output.path): \(reason)")
                }
                let start = Date()
                let outcome = renderer.render(job, estimate: estimates.job(job), index: index, count: toRender.count)
                let seconds = Date().timeIntervalSince(start)
                meter.jobEnded(finished: outcome.measured != nil)
                switch outcome.status {
                case .rendered, .resumed, .upToDate:
                    let what = job.decision == .verify ? "\(job.spec.name) in memory" : job.output.path
                    reporter.info("\(outcome.status == .resumed ? "resumed and finished" : "rendered") \(what) in \(DurationText.text(seconds))")
                case .interrupted:
                    reporter.warning("\(job.spec.outputFileName): \(outcome.error ?? "interrupted")")
                case .failed, .conflict:
                    reporter.error("\(job.location(in: source)): \(job.spec.outputFileName): \(outcome.error ?? "failed")")
                }
                if job.decision != .verify {
                    try record(line: job.spec.line, name: job.spec.name, output: job.output, status: outcome.status,
                               seconds: seconds, key: outcome.jobKey, error: outcome.error,
                               replaced: outcome.status == .rendered || outcome.status == .resumed ? replaced : nil)
                }
                // After the manifest line: a kill between a published clip and its line should stay unlikely.
                if let measured = outcome.measured, let rates = calibration.rates(for: speedKey) {
                    calibration.record(rates.updated(work: facts.work(job.spec.parameters), timings: measured.timings,
                                                     format: job.spec.format, writeSeconds: measured.writeSeconds),
                                       for: speedKey)
                }
                if outcome.status == .interrupted, let signal = stop.requested { return (entries, signal) }
            }
        }
        return (entries, stop.requested)
    }

    /// Denoising steps a planned job still has to run.
    static func remainingSteps(_ job: PlannedJob) -> Int {
        if case let .resume(done, total) = job.decision { return total - done }
        return job.spec.parameters.numInferenceSteps
    }

    /// Removes what killed runs left behind for this run's jobs: temporary files of clips, checkpoints and
    /// frames (`.X.tmp-PID`, frames folders included), and only those whose writer is provably gone (no
    /// process has its pid). Only this run's names are touched, and the run lock keeps out every other run that
    /// could write them.
    static func removeStaleTemporaries(_ plan: BatchPlan) {
        let fm = FileManager.default
        let targets = Set(plan.jobs.flatMap {
            [$0.spec.outputFileName, $0.spec.checkpointFileName, $0.spec.framesFolderName, $0.spec.framesFolderName + ".old"]
        })
        for entry in (try? fm.contentsOfDirectory(atPath: plan.outputDirectory.path)) ?? [] {
            if let owner = AtomicFile.temporaryOwner(entry), targets.contains(owner.target), AtomicFile.ownerIsGone(owner.pid) {
                try? fm.removeItem(at: plan.outputDirectory.appendingPathComponent(entry))
            }
        }
    }
}
