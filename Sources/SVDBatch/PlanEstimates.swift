import Foundation
import SVDCore

/// Time estimates for a plan's jobs: the nominal work of each job (`RenderWork`) at the rates measured on this
/// machine for its model (`SpeedCalibration`, probing a model not measured yet), plus one model load per
/// model group. Both the dry run's figures and the run's ETAs come from here.
struct PlanEstimates {
    /// Output path → estimate, for every job that renders and whose model has rates.
    private(set) var jobs: [String: JobEstimate] = [:]
    /// Model group key → load seconds.
    private(set) var loads: [String: Double] = [:]
    /// Where the rates come from, one line per model.
    private(set) var sources: [String] = []

    init() {}

    /// Rates for every model group of the plan that has jobs to render; a model never measured with this CPU
    /// and thread count is probed once (and the figures stored). A probe that fails leaves that model's jobs
    /// without an estimate, with a warning: estimates never stop a run.
    init(plan: BatchPlan, calibration: SpeedCalibration, reporter: BatchReporter?) {
        for group in plan.jobsByModel {
            let jobs = group.filter(\.decision.renders)
            guard let facts = jobs.first?.spec.model else { continue }
            guard let rates = calibration.rates(for: facts, reporter: reporter, measure: { try SpeedProbe.measure(facts) })
            else { continue }
            sources.append("model \(facts.model.name): rates measured \(rates.measured)")
            loads[facts.groupKey] = rates.loadSeconds
            for job in jobs {
                let p = job.spec.parameters
                self.jobs[job.output.path] = rates.estimate(facts.work(p), stepsLeft: BatchRunner.remainingSteps(job),
                                                            format: job.spec.format)
            }
        }
    }

    func job(_ job: PlannedJob) -> JobEstimate? { jobs[job.output.path] }
    func load(_ facts: ModelFacts) -> Double? { loads[facts.groupKey] }

    /// Every estimated job plus one load per model group.
    var total: Double { jobs.values.reduce(0) { $0 + $1.total } + loads.values.reduce(0, +) }

    /// Whether every rendering job of `plan` has an estimate.
    func covers(_ plan: BatchPlan) -> Bool { plan.jobs.filter(\.decision.renders).allSatisfy { jobs[$0.output.path] != nil } }
}
