import Foundation

/// Time left in a run, from the plan's estimates (`PlanEstimates`: every stage, decoding and writing
/// included), corrected as the run goes by how its finished work compared with its estimate. Before anything
/// finished the ETA is the plain estimate.
final class WorkMeter {
    let jobsTotal: Int
    private(set) var jobsDone = 0
    /// Estimated seconds of the work not done yet.
    private var remaining: Double
    /// Estimated and measured seconds of the work done so far.
    private var estimatedDone = 0.0
    private var measuredDone = 0.0
    /// False when some job has no estimate: then there is no batch ETA, rather than a wrong one.
    private let complete: Bool
    private let clock: () -> Date

    /// The current job's estimate, its steps those still to run.
    private(set) var current: JobEstimate?
    private var currentStart = Date()
    private var currentStepSeconds = 0.0
    private var currentSteps = 0

    init(estimates: [JobEstimate?], loadSeconds: Double, clock: @escaping () -> Date = Date.init) {
        jobsTotal = estimates.count
        complete = estimates.allSatisfy { $0 != nil }
        remaining = estimates.reduce(loadSeconds) { $0 + ($1?.total ?? 0) }
        self.clock = clock
    }

    /// Measured ÷ estimated seconds of the finished work (1 before any).
    var correction: Double { estimatedDone > 0 ? measuredDone / estimatedDone : 1 }

    private func credit(estimated: Double, measured: Double) {
        remaining -= estimated
        estimatedDone += estimated
        measuredDone += measured
    }

    func modelLoaded(estimated: Double?, seconds: Double) {
        if let estimated { credit(estimated: estimated, measured: seconds) }
    }

    /// A model that failed to load: its estimated load is dropped with its jobs (`jobSkipped`).
    func modelFailed(estimated: Double?) { remaining -= estimated ?? 0 }

    /// A job starts with `stepsLeft` steps to run: a checkpoint found now (or gone since planning) moves its
    /// estimate's steps, and the run's remaining time with them.
    func jobStarted(_ estimate: JobEstimate?, stepsLeft: Int) {
        var e = estimate
        if let planned = estimate, planned.steps != stepsLeft {
            remaining += Double(stepsLeft - planned.steps) * planned.step
            e?.steps = stepsLeft
        }
        current = e
        currentStart = clock()
        currentStepSeconds = 0
        currentSteps = 0
    }

    func stepFinished(seconds: Double) {
        currentStepSeconds += seconds
        currentSteps += 1
        if let current { credit(estimated: current.step, measured: seconds) }
    }

    /// The current job ended: when it finished, the rest of its work (encoding, decoding, writing) is done and
    /// measured; otherwise the rest is dropped from the run.
    func jobEnded(finished: Bool) {
        if let e = current {
            let rest = e.prepare + e.decode + e.write
            let stepsLeft = Double(max(e.steps - currentSteps, 0)) * e.step
            if finished {
                credit(estimated: rest + stepsLeft, measured: max(clock().timeIntervalSince(currentStart) - currentStepSeconds, 0))
            } else {
                remaining -= rest + stepsLeft
            }
        }
        current = nil
        jobsDone += 1
    }

    /// A job that never started (its model did not load).
    func jobSkipped(_ estimate: JobEstimate?) {
        remaining -= estimate?.total ?? 0
        jobsDone += 1
    }

    /// The current job's seconds left: its steps at the pace measured so far, then decoding and writing.
    func jobETA(stepsLeft: Int) -> Double? {
        guard let e = current else { return nil }
        let step = currentSteps > 0 ? currentStepSeconds / Double(currentSteps) : e.step * correction
        return Double(stepsLeft) * step + (e.decode + e.write) * correction
    }

    var progress: BatchProgress {
        let total = estimatedDone + remaining
        return BatchProgress(jobsDone: jobsDone, jobsTotal: jobsTotal, fraction: total > 0 ? estimatedDone / total : 0,
                             eta: complete ? max(remaining, 0) * correction : nil)
    }
}
