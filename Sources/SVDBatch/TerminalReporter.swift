import Dispatch
import Foundation
import Logging

/// Progress bars on a terminal: one for the batch, one for the current job's denoising steps, both with an
/// ETA, redrawn in place every second (a step of a full-size model takes minutes, and a frozen bar looks
/// hung). Messages scroll above the bars. `--quiet` shows errors only and no bars.
public final class TerminalReporter: BatchReporter, @unchecked Sendable {
    private let sink: TextSink
    private let quiet: Bool
    private let lock = NSLock()
    private var state: JobBar?
    private var batch = BatchProgress(jobsDone: 0, jobsTotal: 0, fraction: 0, eta: nil)
    private var drawnLines = 0
    private var timer: DispatchSourceTimer?
    static let barWidth = 24

    struct JobBar {
        var name: String
        var index: Int
        var count: Int
        var step: Int
        var totalSteps: Int
        var eta: Double?
        var stepStarted: Date
    }

    public init(sink: TextSink, quiet: Bool) {
        self.sink = sink
        self.quiet = quiet
    }

    deinit { timer?.cancel() }

    public func log(_ level: Logger.Level, _ message: String) {
        guard !quiet || level >= .error else { return }
        let prefix = level >= .error ? "error: " : level == .warning ? "warning: " : ""
        lock.withLock {
            sink.write(clearBars() + prefix + message + "\n" + bars())
        }
    }

    public func jobStarted(name: String, index: Int, count: Int, firstStep: Int, totalSteps: Int, batch: BatchProgress) {
        guard !quiet else { return }
        lock.withLock {
            state = JobBar(name: name, index: index, count: count, step: firstStep, totalSteps: totalSteps, eta: nil,
                           stepStarted: Date())
            self.batch = batch
            sink.write(clearBars() + bars())
        }
        startTimer()
    }

    public func stepFinished(_ r: StepReport) {
        guard !quiet else { return }
        lock.withLock {
            state?.step = r.step
            state?.eta = r.jobETA
            state?.stepStarted = Date()
            batch = r.batch
            sink.write(clearBars() + bars())
        }
    }

    public func jobEnded() {
        guard !quiet else { return }
        lock.withLock {
            sink.write(clearBars())
            state = nil
        }
        timer?.cancel()
        timer = nil
    }

    private func startTimer() {
        guard timer == nil else { return }
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "svdbatch.progress"))
        t.schedule(deadline: .now() + 1, repeating: 1)
        t.setEventHandler { [weak self] in
            guard let self else { return }
            self.lock.withLock { if self.state != nil { self.sink.write(self.clearBars() + self.bars()) } }
        }
        t.resume()
        timer = t
    }

    /// Moves up over the lines drawn last time and erases them.
    private func clearBars() -> String {
        defer { drawnLines = 0 }
        return String(repeating: "\u{1B}[1A\u{1B}[2K", count: drawnLines) + (drawnLines > 0 ? "\r" : "")
    }

    private func bars() -> String {
        guard let job = state else { return "" }
        let batchEta = batch.eta.map { "  ETA \(DurationText.text($0))" } ?? ""
        let line1 = "batch \(Self.bar(batch.fraction)) job \(job.index)/\(job.count)\(batchEta)"
        let since = DurationText.text(Date().timeIntervalSince(job.stepStarted))
        let status: String
        if job.step >= job.totalSteps {
            status = "  decoding and encoding" + (job.eta.map { ", ETA \(DurationText.text($0))" } ?? "") + " (\(since))"
        } else {
            status = (job.eta.map { "  ETA \(DurationText.text($0))" } ?? "") + "  (step \(job.step + 1): \(since))"
        }
        let line2 = "\(job.name) \(Self.bar(Double(job.step) / Double(max(job.totalSteps, 1)))) step \(job.step)/\(job.totalSteps)\(status)"
        drawnLines = 2
        return line1 + "\n" + line2 + "\n"
    }

    static func bar(_ fraction: Double) -> String {
        let filled = Int((min(max(fraction, 0), 1) * Double(barWidth)).rounded(.down))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled) + "]"
    }
}
