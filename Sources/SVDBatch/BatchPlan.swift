import Foundation
import SVDMedia
import SVDModels

/// What a run will do with one job of its shard.
public enum JobDecision: Sendable, Equatable {
    /// No clip yet: render from the start (a stale checkpoint of another job, if any, is replaced).
    case render(note: String?)
    /// No clip yet, and a checkpoint of exactly this job: continue after its last finished step.
    case resume(stepsDone: Int, totalSteps: Int)
    /// The clip exists with this job's key.
    case upToDate
    /// A different file is in the way and is left alone.
    case conflict(reason: String)
    /// `--force`: the file in the way is replaced.
    case replace(reason: String)
    /// Rendered in memory from the first step for `rerender --verify`, which judges the frames; nothing is written.
    case verify

    public var label: String {
        switch self {
        case .render: return "render"
        case .resume: return "resume"
        case .upToDate: return "skip"
        case .conflict: return "conflict"
        case .replace: return "replace"
        case .verify: return "verify"
        }
    }

    /// Whether the run renders this job.
    public var renders: Bool {
        switch self {
        case .render, .resume, .replace, .verify: return true
        case .upToDate, .conflict: return false
        }
    }
}

public struct PlannedJob: Sendable {
    public let spec: JobSpec
    /// See `Recipe.jobKey`; computed before rendering from the model's fingerprint, the input's pixels and the
    /// effective parameters.
    public let jobKey: String
    public let model: ModelRecord
    public let output: URL
    /// Where the job's state is saved after each step; nil: it renders from the first step and saves none.
    public let checkpoint: URL?
    public let decision: JobDecision
    /// The job key of the stale clip (and frames) this job replaces, if any.
    public var replacesJobKey: String? = nil
    /// Set when the job varies an earlier clip's recipe (`rerender --set`, `--format`).
    public var variation: Variation? = nil

    /// How messages place the job: "jobs.csv:3", or the source alone for a job that is not a numbered row.
    func location(in source: String) -> String { spec.line > 0 ? "\(source):\(spec.line)" : source }
}

/// What a varied job's recipe records about the clip it was made from.
public struct Variation: Sendable {
    /// The original clip's frames_sha256.
    public let derivedFrom: String
    /// What differs from the original recipe, key → new value.
    public let changes: [String: String]
}

/// Everything decided before the first render: rejected rows (every shard reports them all), and this shard's
/// jobs in CSV order with their decisions.
public struct BatchPlan: Sendable {
    /// The job list, absolute.
    public let csvPath: String
    public let outputDirectory: URL
    public let shard: Shard?
    public let rowCount: Int
    public let rejected: [RowError]
    public let jobs: [PlannedJob]
    /// Valid jobs that belong to other shards.
    public let otherShardJobs: Int
    /// Things worth one line each (the demo model is in use, a weight variant fell back, …).
    public let notes: [String]

    /// This shard's jobs grouped by model (groups in order of first appearance, CSV order inside), so the
    /// runner holds one model in memory at a time.
    public var jobsByModel: [[PlannedJob]] {
        var order: [String] = []
        var groups: [String: [PlannedJob]] = [:]
        for job in jobs {
            let key = job.spec.model.groupKey
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(job)
        }
        return order.map { groups[$0]! }
    }
}

/// Problems that stop the whole run before anything renders (exit status 2).
public enum PlanError: Error, CustomStringConvertible {
    case jobList(JobTableError)
    case model(String)

    public var description: String {
        switch self {
        case let .jobList(error): return error.description
        case let .model(message): return message
        }
    }
}
