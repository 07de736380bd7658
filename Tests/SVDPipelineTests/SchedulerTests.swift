import Foundation
import XCTest
@testable import SVDPipeline
import SVDCore
import TestSupport

/// The Euler scheduler and per-frame guidance against diffusers' values stored in the case fixtures.
final class SchedulerTests: XCTestCase {
    /// sigma_min / sigma_max of every published SVD scheduler config.
    private static let sigmaMin = 0.002, sigmaMax = 700.0

    private struct Case {
        let name: String
        let json: [String: Any]
        let tensors: SafeTensorsFile
        var steps: Int { json["num_inference_steps"] as! Int }
        var frames: Int { json["num_frames"] as! Int }
        var minGuidance: Double { (json["min_guidance_scale"] as! NSNumber).doubleValue }
        var maxGuidance: Double { (json["max_guidance_scale"] as! NSNumber).doubleValue }
        var seed: Seed { Seed(parsing: "\(json["seed"]!)")! }
        func bits(_ name: String) throws -> [UInt32] { try tensors.tensor(name).array.map(\.bitPattern) }
    }

    private func loadCase(_ name: String) throws -> Case {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.casePath(name, "case.json")))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return Case(name: name, json: json,
                    tensors: try SafeTensorsFile(path: Fixtures.casePath(name, "intermediates.safetensors")))
    }

    private func scheduler(steps: Int, spacing: String = "leading") -> EulerScheduler {
        EulerScheduler(sigmaMin: Self.sigmaMin, sigmaMax: Self.sigmaMax, timestepSpacing: spacing, numInferenceSteps: steps)
    }

    /// Distance in units in the last place between two finite floats.
    private func ulps(_ a: Float, _ b: Float) -> Int {
        func key(_ x: Float) -> Int { x.sign == .minus ? -Int(x.magnitude.bitPattern) : Int(x.bitPattern) }
        return abs(key(a) - key(b))
    }

    // MARK: Against the cases

    func testScheduleAndGuidanceMatchBothCases() throws {
        for name in ["basic", "resize-chunked"] {
            let c = try loadCase(name)
            let s = scheduler(steps: c.steps)
            XCTAssertEqual(s.stepCount, c.steps)
            XCTAssertEqual(s.sigmas.map(\.bitPattern), try c.bits("sigmas"), "\(name): sigmas")
            XCTAssertEqual(s.sigmas.last, 0)
            XCTAssertEqual([s.initNoiseSigma.bitPattern], try c.bits("init_noise_sigma"), "\(name): init_noise_sigma")
            XCTAssertEqual(s.initNoiseSigma, 700.000732421875)
            let guidance = Guidance.frameScales(min: c.minGuidance, max: c.maxGuidance, frames: c.frames)
            XCTAssertEqual(guidance.map(\.bitPattern), try c.bits("guidance_scale"), "\(name): guidance_scale")

            let stored = try c.tensors.tensor("timesteps").array
            XCTAssertEqual(s.timesteps.count, stored.count)
            let distances = zip(s.timesteps, stored).map { ulps($0, $1) }
            let exact = distances.filter { $0 == 0 }.count
            print("\(name): timesteps exact \(exact) / \(stored.count), max \(distances.max() ?? 0) ulp")
            XCTAssertLessThanOrEqual(distances.max() ?? 0, 1, "\(name): timesteps \(s.timesteps) vs \(stored)")

            // case.json's derived values were printed from the same tensors.
            let derived = c.json["derived"] as! [String: Any]
            XCTAssertEqual(s.sigmas, (derived["sigmas"] as! [NSNumber]).map { Float($0.doubleValue) })
        }
    }

    /// Both noises from a fresh generator and the scheduler's init_noise_sigma give `latents_init` exactly.
    func testInitialLatentsFromSeed() throws {
        for name in ["basic", "resize-chunked"] {
            let c = try loadCase(name)
            let stored = try c.tensors.tensor("latents_init")
            let g = TorchGenerator(seed: c.seed)
            _ = g.randn(shape: try c.tensors.tensor("noise_aug_noise").shape)
            let sigma = scheduler(steps: c.steps).initNoiseSigma
            let latents = g.randn(shape: stored.shape).array.map { $0 * sigma }
            XCTAssertEqual(latents.map(\.bitPattern), stored.array.map(\.bitPattern), "\(name): latents_init")
        }
    }

    /// Guidance on the stored UNet output and one Euler step from `latents_init` give `latents_step0` bit for bit.
    func testFirstEulerStepBitExact() throws {
        let c = try loadCase("basic")
        let s = scheduler(steps: c.steps)
        let output = try c.tensors.tensor("unet_output_step0")
        XCTAssertEqual(output.shape[0], 2)
        let guided = Guidance.combine(unconditional: output.slice(first: 0, 1), conditional: output.slice(first: 1, 1),
                                      scales: try c.tensors.tensor("guidance_scale").array)
        let next = s.step(modelOutput: guided, sample: try c.tensors.tensor("latents_init"), step: 0)
        let expected = try c.tensors.tensor("latents_step0")
        XCTAssertEqual(next.shape, expected.shape)
        let same = zip(next.array, expected.array).filter { $0.bitPattern == $1.bitPattern }.count
        XCTAssertEqual(same, expected.count, "latents_step0: \(same) of \(expected.count) bit-identical")
    }

    // MARK: Schedule details

    /// S = 25 as diffusers computes it.
    func testKarrasTableForS25() {
        let sigmas = ["700.0", "545.72925", "421.56912", "322.45367", "244.02307", "182.54713", "134.85445",
                      "98.267136", "70.540840", "49.809792", "34.536739", "23.467512", "15.589968", "10.097130",
                      "6.3542657", "3.8696973", "2.2691164", "1.2731773", "0.67814600", "0.33937815", "0.15740465",
                      "0.066399075", "0.024802580", "0.0078824954", "0.0020000001"]
        let timesteps: [Float] = [1.6377700, 1.5755308, 1.5109960, 1.4439899, 1.3743157, 1.3017521, 1.2260489,
                                  1.1469225, 1.0640479, 0.97705293, 0.88550590, 0.78890425, 0.68665690, 0.57806277,
                                  0.46228158, 0.33829410, 0.20484763, 0.06037889, -0.097098172, -0.27016008,
                                  -0.46223384, -0.67801803, -0.92420190, -1.2107776, -1.5536520]
        let s = scheduler(steps: 25)
        XCTAssertEqual(s.sigmas.count, 26)
        XCTAssertEqual(s.sigmas[25], 0)
        for (i, printed) in sigmas.enumerated() {
            XCTAssertEqual(Self.rounded(Double(s.sigmas[i]), like: printed), Self.rounded(Double(printed)!, like: printed),
                           "σ_\(i) = \(s.sigmas[i]), table \(printed)")
        }
        // The table's timesteps are torch's; ours may differ by 1 ulp where torch's log is not correctly rounded.
        var exact = 0
        for (i, t) in timesteps.enumerated() {
            XCTAssertLessThanOrEqual(ulps(s.timesteps[i], t), 1, "t_\(i) = \(s.timesteps[i]), table \(t)")
            if s.timesteps[i] == t { exact += 1 }
        }
        print("S = 25 table: timesteps exact \(exact) / 25")
    }

    /// `value` formatted with as many significant digits as `printed` has.
    private static func rounded(_ value: Double, like printed: String) -> String {
        let digits = printed.filter(\.isNumber).drop { $0 == "0" }.count
        return String(format: "%.\(max(digits, 1) - 1)e", value)
    }

    func testSingleStepSchedule() {
        let s = scheduler(steps: 1)
        XCTAssertEqual(s.sigmas, [700, 0])
        XCTAssertEqual(s.timesteps.count, 1)
        // The endpoints are (σ^(1/7))^7 in double, which need not round-trip, but do after the float32 cast.
        let two = EulerScheduler.karrasSigmas(sigmaMin: 0.002, sigmaMax: 700, steps: 2).map { Float($0) }
        XCTAssertEqual(two, [700, 0.002])
    }

    func testCustomSigmasAreUsedAsIs() throws {
        let karras = scheduler(steps: 6)
        let custom = EulerScheduler(sigmas: karras.sigmas.map(Double.init), timestepSpacing: "leading")
        XCTAssertEqual(custom, karras)

        let short = EulerScheduler(sigmas: [10, 1, 0.5], timestepSpacing: "leading")
        XCTAssertEqual(short.sigmas, [10, 1, 0.5], "no 0 is appended to a custom list")
        XCTAssertEqual(short.stepCount, 2)
        XCTAssertEqual(short.timesteps, [0.25 * Float(log(10.0)), 0])
        XCTAssertEqual(short.initNoiseSigma, Float(101).squareRoot())
    }

    func testInitNoiseSigmaBySpacing() {
        XCTAssertEqual(scheduler(steps: 6, spacing: "trailing").initNoiseSigma, 700)
        XCTAssertEqual(scheduler(steps: 6, spacing: "linspace").initNoiseSigma, 700)
        XCTAssertEqual(scheduler(steps: 6, spacing: "leading").initNoiseSigma, 700.000732421875)
    }

    func testScaleModelInputDividesBySqrtSigmaSquaredPlusOne() {
        let s = scheduler(steps: 6)
        XCTAssertEqual(s.inputDivisor(step: 0), s.initNoiseSigma)
        let x = Tensor(shape: [2, 3], values: [1, -2, 3.5, 700, 1e-3, 0])
        for i in 0..<s.stepCount {
            let divisor = (s.sigmas[i] * s.sigmas[i] + 1).squareRoot()
            XCTAssertEqual(s.scaleModelInput(x, step: i).array, x.array.map { $0 / divisor })
        }
    }

    func testLastStepReturnsTheDenoisedEstimate() {
        // σ' = 0: x' = x − (x − x0) = x0 up to rounding.
        let s = scheduler(steps: 6)
        let v = Tensor(shape: [4], values: [0.5, -1, 2, 0])
        let x = Tensor(shape: [4], values: [0.1, 0.2, -0.3, 0.4])
        let sigma = s.sigmas[5]
        let out = s.step(modelOutput: v, sample: x, step: 5).array
        for k in 0..<4 {
            let x0 = v.array[k] * (-sigma / (sigma * sigma + 1).squareRoot()) + x.array[k] / (sigma * sigma + 1)
            XCTAssertEqual(out[k], x0, accuracy: 1e-6)
        }
    }

    // MARK: Guidance

    func testGuidanceLinspace() {
        XCTAssertEqual(Guidance.frameScales(min: 1, max: 3, frames: 1), [1])
        XCTAssertEqual(Guidance.frameScales(min: 1, max: 3, frames: 2), [1, 3])
        let g25 = Guidance.frameScales(min: 1, max: 3, frames: 25)
        XCTAssertEqual(g25.first, 1)
        XCTAssertEqual(g25.last, 3)
        XCTAssertEqual(g25[1], 1.0833334)
        XCTAssertEqual(g25[12], 2)
        XCTAssertEqual(Guidance.frameScales(min: 2, max: 2, frames: 5), [2, 2, 2, 2, 2])
        let g14 = Guidance.frameScales(min: 1, max: 3, frames: 14)
        XCTAssertEqual(g14[1], 1.1538461)
        XCTAssertEqual(g14.last, 3)
    }

    func testGuidanceCombinePerFrame() {
        // [M = 1, F = 2, 2 values]: frame 0 has g = 1, frame 1 has g = 3.
        let u = Tensor(shape: [1, 2, 2], values: [1, 2, 3, 4])
        let c = Tensor(shape: [1, 2, 2], values: [2, 2, 5, 3])
        XCTAssertEqual(Guidance.combine(unconditional: u, conditional: c, scales: [1, 3]).array, [2, 2, 9, 1])
    }
}
