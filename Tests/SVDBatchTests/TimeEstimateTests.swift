import Foundation
import BatchTestSupport
@testable import SVDBatch
import SVDCore
import SVDMedia
import SVDPipeline
import XCTest

/// Time estimates: measured rates × the nominal work (`RenderWork`), the speed figures kept per machine and
/// model, the dry run's figures, and ETAs that include decoding and writing. No assertion depends on how fast
/// this machine is: the rates are given, or only their presence is checked.
final class TimeEstimateTests: XCTestCase {
    private let rates = SpeedRates(imageEncoder: 1e9, vaeEncode: 2e9, unet: 4e9, vaeDecode: 8e9,
                                   writeSecondsPerMegapixel: ["mp4": 0.5, "webm": 2], loadSeconds: 3,
                                   measured: "2026-12-05T00:00:00Z probe")

    private func demoFacts() throws -> ModelFacts {
        let catalog = ModelCatalog(variant: nil, digestCache: nil)
        let model = try ModelResolver(environment: Workspace.environment).resolve(ModelResolver.demoKeyword, relativeTo: URL(fileURLWithPath: "/"))
        return try catalog.facts(for: model)
    }

    func testAnEstimateIsTheWorkOfEveryStageAtItsRate() throws {
        let facts = try demoFacts()
        let p = VideoParameters(seed: Seed(UInt64(1)), numFrames: 4, width: 128, height: 64, numInferenceSteps: 5)
        let work = facts.work(p)
        XCTAssertGreaterThan(work.unetStep, 0)
        XCTAssertEqual(work.writtenPixels, 4 * 128 * 64)
        let e = rates.estimate(work, stepsLeft: 3, format: .mp4)
        XCTAssertEqual(e.prepare, Double(work.imageEncoder) / 1e9 + Double(work.vaeEncode) / 2e9, accuracy: 1e-12)
        XCTAssertEqual(e.step, Double(work.unetStep) / 4e9, accuracy: 1e-12)
        XCTAssertEqual(e.decode, Double(work.vaeDecode) / 8e9, accuracy: 1e-12)
        XCTAssertEqual(e.write, 0.5 * Double(4 * 128 * 64) / 1e6, accuracy: 1e-12)
        XCTAssertEqual(e.total, e.prepare + 3 * e.step + e.decode + e.write, accuracy: 1e-12)
        // Twice the frames, more work in every frame-dependent stage; a format never measured costs the slowest.
        let longer = facts.work(VideoParameters(seed: Seed(UInt64(1)), numFrames: 8, width: 128, height: 64, numInferenceSteps: 5))
        XCTAssertGreaterThan(longer.unetStep, work.unetStep)
        XCTAssertGreaterThan(longer.vaeDecode, work.vaeDecode)
        XCTAssertEqual(rates.estimate(work, stepsLeft: 3, format: .mkv).write, 2 * Double(4 * 128 * 64) / 1e6, accuracy: 1e-12)
    }

    func testARunMovesTheRatesHalfwayTowardsWhatItMeasured() throws {
        let work = try demoFacts().work(VideoParameters(seed: Seed(UInt64(1)), numFrames: 2, width: 64, height: 64, numInferenceSteps: 2))
        let timings = StageTimings()
        timings.imageEncoder = Double(work.imageEncoder) / 3e9   // measured 3e9 FLOP/s
        timings.unetEvaluations = [Double(work.unetStep) / 1e9, Double(work.unetStep) / 1e9]
        let updated = rates.updated(work: work, timings: timings, format: .webm, writeSeconds: 4 * Double(work.writtenPixels) / 1e6)
        XCTAssertEqual(1 / updated.imageEncoder, 0.5 / 1e9 + 0.5 / 3e9, accuracy: 1e-18)
        XCTAssertEqual(1 / updated.unet, 0.5 / 4e9 + 0.5 / 1e9, accuracy: 1e-18)
        XCTAssertEqual(updated.vaeEncode, rates.vaeEncode, "a stage the render did not time keeps its rate")
        XCTAssertEqual(updated.vaeDecode, rates.vaeDecode)
        XCTAssertEqual(updated.writeSecondsPerMegapixel["webm"]!, 3, accuracy: 1e-9)
        XCTAssertEqual(updated.writeSecondsPerMegapixel["mp4"], 0.5)
    }

    func testSpeedFiguresAreKeptPerCPUThreadsAndModelAndDamagedOnesAreMeasuredAgain() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("svdbatch-speed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let facts = try demoFacts()
        let key = SpeedCalibration.key(facts, threads: 2)
        XCTAssertNotEqual(key, SpeedCalibration.key(facts, threads: 1))
        XCTAssertNotEqual(key, SpeedCalibration.key(facts, threads: 2, cpu: CPUFeatures(flags: [], modelName: "Other CPU")))
        SpeedCalibration(directory: folder).record(rates, for: key)
        XCTAssertEqual(SpeedCalibration(directory: folder).rates(for: key), rates)

        var damaged = rates
        damaged.unet = 0
        SpeedCalibration(directory: folder).record(damaged, for: key)
        XCTAssertNil(SpeedCalibration(directory: folder).rates(for: key), "a zero rate is not trusted")
        try Data("not json".utf8).write(to: folder.appendingPathComponent(SpeedCalibration.fileName))
        XCTAssertNil(SpeedCalibration(directory: folder).rates(for: key), "an unreadable file counts as empty")
    }

    func testTheETAStartsAtTheEstimateAndFollowsTheMeasuredPaceIncludingDecodingAndWriting() {
        var now = Date(timeIntervalSince1970: 0)
        let job = JobEstimate(prepare: 1, step: 2, steps: 3, decode: 4, write: 5)   // 16 s
        let meter = WorkMeter(estimates: [job, job], loadSeconds: 2, clock: { now })
        XCTAssertEqual(meter.progress.eta, 34)
        meter.modelLoaded(estimated: 2, seconds: 2)
        meter.jobStarted(job, stepsLeft: 3)
        XCTAssertEqual(meter.jobETA(stepsLeft: 3), 6 + 4 + 5, "steps, decoding and writing")
        now += 1
        meter.stepFinished(seconds: 4)   // twice the estimated 2 s
        now += 4
        // Done: load 2 s as estimated, one step 4 s for 2 estimated: measured/estimated = 6/4.
        XCTAssertEqual(meter.correction, 1.5)
        XCTAssertEqual(meter.jobETA(stepsLeft: 2)!, 2 * 4 + (4 + 5) * 1.5, accuracy: 1e-9)
        XCTAssertEqual(meter.progress.eta!, (34 - 4) * 1.5, accuracy: 1e-9)
        meter.stepFinished(seconds: 4)
        meter.stepFinished(seconds: 4)
        now += 8 + 10   // with the first second: prepare, decode and write took 11 s for 10 estimated
        meter.jobEnded(finished: true)
        XCTAssertEqual(meter.jobsDone, 1)
        XCTAssertEqual(meter.correction, (2 + 12 + 11) / 18.0, accuracy: 1e-9)
        XCTAssertEqual(meter.progress.eta!, 16 * 25 / 18.0, accuracy: 1e-9)
        XCTAssertEqual(meter.progress.fraction, 18.0 / 34, accuracy: 1e-9)
        // A job that stops early takes the rest of its estimate with it.
        meter.jobStarted(job, stepsLeft: 3)
        meter.jobEnded(finished: false)
        XCTAssertEqual(meter.progress.eta!, 0, accuracy: 1e-9)
    }

    func testWithoutAnEstimateForEveryJobThereIsNoBatchETA() {
        let meter = WorkMeter(estimates: [JobEstimate(prepare: 1, step: 1, steps: 1, decode: 1, write: 1), nil], loadSeconds: 0)
        XCTAssertNil(meter.progress.eta)
    }

    func testTheDryRunEstimatesEveryJobFromTheStoredRates() throws {
        let ws = try Workspace()
        let cache = ws.url("cache")
        let facts = try demoFacts()
        SpeedCalibration(directory: cache.appendingPathComponent("svdbatch")).record(rates, for: SpeedCalibration.key(facts))
        try ws.csv(Tiny.columns + ",format\n" + [Tiny.row(seed: "1", name: "a") + ",", Tiny.row(seed: "2", name: "b", steps: 4) + ",",
                                                  Tiny.row(seed: "3", name: "c") + ",webm"].joined(separator: "\n") + "\n")
        let run = ws.run { options in
            options.dryRun = true
            options.environment["XDG_CACHE_HOME"] = cache.path
        }
        XCTAssertEqual(run.status, .success, run.messages)
        let p = { (seed: UInt64, steps: Int) in
            VideoParameters(seed: Seed(seed), numFrames: 3, width: 64, height: 64, numInferenceSteps: steps)
        }
        let a = rates.estimate(facts.work(p(1, 2)), stepsLeft: 2, format: .mp4)
        let b = rates.estimate(facts.work(p(2, 4)), stepsLeft: 4, format: .mp4)
        let c = rates.estimate(facts.work(p(3, 2)), stepsLeft: 2, format: .webm)
        for (name, e) in [("a.mp4", a), ("b.mp4", b), ("c.webm", c)] {
            let line = run.output.split(separator: "\n").first { $0.contains("/\(name) ") }
            XCTAssertTrue(line?.hasSuffix("; about \(DurationText.text(e.total))") == true, "\(name): \(line ?? "missing")")
        }
        XCTAssertTrue(run.output.contains("estimated time: \(DurationText.text(a.total + b.total + c.total + rates.loadSeconds)) with"), run.output)
        XCTAssertTrue(run.output.contains("rates measured 2026-12-05T00:00:00Z probe"), run.output)
        XCTAssertFalse(run.messages.contains("measured this machine's speed"), "stored figures are used, not measured again")
    }

    func testAModelNeverMeasuredIsProbedOnceAndItsFiguresKept() throws {
        let ws = try Workspace()
        let cache = ws.url("cache")
        try ws.csv(Tiny.csv([Tiny.row(seed: "1", name: "a")]))
        let first = ws.run { options in
            options.dryRun = true
            options.environment["XDG_CACHE_HOME"] = cache.path
        }
        XCTAssertEqual(first.status, .success, first.messages)
        XCTAssertTrue(first.messages.contains("notice: measured this machine's speed with model"), first.messages)
        let stored = SpeedCalibration(directory: cache.appendingPathComponent("svdbatch")).rates(for: SpeedCalibration.key(try demoFacts()))
        XCTAssertNotNil(stored)
        XCTAssertEqual(Set(stored?.writeSecondsPerMegapixel.keys.map { $0 } ?? []), Set(ClipFormat.allCases.map(\.rawValue)))
        XCTAssertTrue(first.output.contains("estimated time: "), first.output)

        // The real run uses the figures, says its estimate, and refines them with what it measured.
        let run = ws.run { $0.environment["XDG_CACHE_HOME"] = cache.path }
        XCTAssertEqual(run.status, .success, run.messages)
        XCTAssertFalse(run.messages.contains("measured this machine's speed"), run.messages)
        XCTAssertTrue(run.messages.contains("engine threads, estimated "), run.messages)
        XCTAssertTrue(run.messages.contains("job ETA "), "the last step's line still has decoding and writing ahead: \(run.messages)")
        let refined = SpeedCalibration(directory: cache.appendingPathComponent("svdbatch")).rates(for: SpeedCalibration.key(try demoFacts()))
        XCTAssertTrue(refined?.measured.hasSuffix(" run") == true, refined?.measured ?? "none")
    }
}
