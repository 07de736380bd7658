import Foundation
import Logging

/// swift-log handler for unattended runs: one line per event, `2025-01-31T02:00:05Z info: message`, UTC.
public struct TimestampedLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let sink: TextSink

    public init(sink: TextSink, level: Logger.Level) {
        self.sink = sink
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        sink.write(LogLine.text(event.level, "\(event.message)"))
    }
}

/// The one format of every message svdbatch writes to standard error, whatever the subcommand:
/// `2025-01-31T02:00:05Z error: message` (UTC, lower-case level), so that `grep ' error: '` finds them all.
public enum LogLine {
    public static func text(_ level: Logger.Level, _ message: String, at date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return "\(formatter.string(from: date)) \(level): \(message)\n"
    }
}

/// Events as timestamped log lines (cron, pipes, files). Step lines are rate-limited so that a batch of small
/// jobs does not flood the log, while an hour-long job still shows it is alive.
public final class LogReporter: BatchReporter {
    private var logger: Logger
    private var lastStepLine = Date.distantPast
    static let stepLineInterval: TimeInterval = 30

    public init(sink: TextSink, quiet: Bool) {
        let level: Logger.Level = quiet ? .error : .info
        logger = Logger(label: "svdbatch") { _ in TimestampedLogHandler(sink: sink, level: level) }
        logger.logLevel = level
    }

    public func log(_ level: Logger.Level, _ message: String) {
        logger.log(level: level, "\(message)")
    }

    public func jobStarted(name: String, index: Int, count: Int, firstStep: Int, totalSteps: Int, batch: BatchProgress) {
        lastStepLine = Date()
    }

    public func stepFinished(_ r: StepReport) {
        let now = Date()
        guard now.timeIntervalSince(lastStepLine) >= Self.stepLineInterval || r.step == r.totalSteps else { return }
        lastStepLine = now
        var text = "\(r.name): step \(r.step)/\(r.totalSteps) (\(DurationText.text(r.stepSeconds)) per step"
        if let eta = r.jobETA { text += ", job ETA \(DurationText.text(eta))" }
        if let eta = r.batch.eta, r.batch.jobsDone + 1 < r.batch.jobsTotal { text += ", batch ETA \(DurationText.text(eta))" }
        log(.info, text + ")")
    }

    public func jobEnded() {}
}
