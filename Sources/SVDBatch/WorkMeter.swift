import Foundation
import SVDCore
import SVDPipeline

/// Estimates time left. A step's cost is taken as proportional to latent positions × frames × guidance rows,
/// so jobs of different sizes share one seconds-per-unit measurement.
final class WorkMeter {
    private(set) var unitsTotal: Double = 0
    private(set) var unitsDone: Double = 0
    private var secondsMeasured: Double = 0
    private var unitsMeasured: Double = 0
    private(set) var jobsDone = 0
    let jobsTotal: Int

    init(jobs: [PlannedJob]) {
        jobsTotal = jobs.count
        for job in jobs {
            var steps = Double(job.spec.parameters.numInferenceSteps)
            if case let .resume(done, _) = job.decision { steps -= Double(done) }
            unitsTotal += max(steps, 0) * Self.stepUnits(job.spec.parameters)
        }
    }

    /// In Double throughout, so no row (however large its numbers) can overflow and trap the batch.
    static func stepUnits(_ p: VideoParameters) -> Double {
        Double(p.numFrames) * Double(p.width / 8) * Double(p.height / 8) * (p.usesGuidance ? 2 : 1)
    }

    func stepFinished(_ p: VideoParameters, seconds: Double) {
        let units = Self.stepUnits(p)
        unitsDone += units
        unitsMeasured += units
        secondsMeasured += seconds
    }

    /// A job ended without rendering its remaining steps (failure, or skipped work): drop them from the total.
    func jobFinished(remainingSteps: Int, of p: VideoParameters) {
        unitsTotal -= Double(max(remainingSteps, 0)) * Self.stepUnits(p)
        jobsDone += 1
    }

    var progress: BatchProgress {
        let fraction = unitsTotal > 0 ? unitsDone / unitsTotal : 0
        let eta = unitsMeasured > 0 ? (unitsTotal - unitsDone) * secondsMeasured / unitsMeasured : nil
        return BatchProgress(jobsDone: jobsDone, jobsTotal: jobsTotal, fraction: fraction, eta: eta)
    }
}
