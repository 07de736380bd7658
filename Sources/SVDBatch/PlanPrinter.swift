import Foundation
import SVDCore

/// The `--dry-run` report: every row of this shard (and every rejected row) with its output and decision.
enum PlanPrinter {
    static func text(_ plan: BatchPlan, estimates: PlanEstimates) -> String {
        var rows: [(line: Int, decision: String, output: String, detail: String)] = []
        for job in plan.jobs {
            let p = job.spec.parameters
            let summary = "\(p.width)×\(p.height), \(p.numFrames) frames, \(p.numInferenceSteps) steps, seed \(p.seed), model \(job.spec.model.model.name)"
            let estimate = estimates.job(job).map { "; about \(DurationText.text($0.total))" } ?? ""
            let detail: String
            switch job.decision {
            case let .render(note): detail = summary + (note.map { "; \($0)" } ?? "") + estimate
            case let .resume(done, total): detail = "from step \(done)/\(total); " + summary + estimate
            case .upToDate: detail = "up to date (job_key \(job.jobKey.prefix(12))…)"
            case let .conflict(reason): detail = reason
            case let .replace(reason): detail = reason + estimate
            case .verify: detail = summary + "; in memory, compared with the recorded frames" + estimate
            }
            rows.append((job.spec.line, job.decision.label, job.output.path, detail))
        }
        for error in plan.rejected {
            let output = error.outputFileName.map { plan.outputDirectory.appendingPathComponent($0).path } ?? "-"
            rows.append((error.line, "invalid", output, error.description))
        }
        rows.sort { $0.line < $1.line }

        let shard = plan.shard.map { ", shard \($0): \(plan.jobs.count) of \(plan.jobs.count + plan.otherShardJobs) valid jobs" } ?? ""
        var out = "plan for \(plan.csvPath) → \(plan.outputDirectory.path) (\(plan.rowCount) row\(plan.rowCount == 1 ? "" : "s")\(shard)); nothing is rendered\n"
        let widths = (String(rows.map(\.line).max() ?? 0).count + 5, max(8, rows.map(\.decision.count).max() ?? 0),
                      rows.map(\.output.count).max() ?? 0)
        for row in rows {
            out += pad(row.line > 0 ? "line \(row.line)" : "job", widths.0) + "  " + pad(row.decision, widths.1) + "  "
                + pad(row.output, widths.2) + "  " + row.detail + "\n"
        }
        out += "summary: " + summary(plan) + "\n"
        if plan.jobs.contains(where: \.decision.renders) { out += time(plan, estimates) }
        return out
    }

    /// The estimated time of the jobs to render (model loads included), and where the rates come from.
    static func time(_ plan: BatchPlan, _ estimates: PlanEstimates) -> String {
        let threads = "\(Parallel.workerCount) engine thread\(Parallel.workerCount == 1 ? "" : "s")"
        var out = estimates.covers(plan)
            ? "estimated time: \(DurationText.text(estimates.total)) with \(threads), model loads, decoding and writing included\n"
            : "estimated time: unknown for some jobs (their model's speed could not be measured); \(DurationText.text(estimates.total)) for the others\n"
        for source in estimates.sources { out += "  \(source)\n" }
        return out
    }

    static func summary(_ plan: BatchPlan) -> String {
        var counts: [String: Int] = [:]
        for job in plan.jobs { counts[job.decision.label, default: 0] += 1 }
        let parts = [("render", "to render"), ("resume", "to resume"), ("replace", "to replace (--force)"),
                     ("skip", "up to date"), ("conflict", "conflict"), ("verify", "to verify")]
            .compactMap { key, text in counts[key].map { "\($0) \(text)" } }
        let invalid = plan.rejected.isEmpty ? [] : ["\(plan.rejected.count) invalid row\(plan.rejected.count == 1 ? "" : "s")"]
        let all = parts + invalid
        return all.isEmpty ? "no jobs" : all.joined(separator: ", ")
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}
