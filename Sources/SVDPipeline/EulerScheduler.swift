import SVDCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Upstream: https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_euler_discrete.py

/// diffusers' `EulerDiscreteScheduler` as SVD configures it: Karras sigmas, continuous v-prediction
/// timesteps, final sigma 0, no churn. Every scalar is float32 where diffusers holds it in a float32 tensor, so
/// sigmas, `initNoiseSigma` and each step reproduce diffusers bit for bit.
///
/// Unlike diffusers it keeps no step counter: callers pass the step index.
public struct EulerScheduler: Sendable, Equatable {
    /// σ_0 … σ_S in float32 (σ_S = 0 for the Karras schedule).
    public let sigmas: [Float]
    /// The UNet's continuous timesteps t_i = fl32(0.25 · fl32(ln σ_i)), i < S.
    public let timesteps: [Float]
    /// The factor the initial noise is multiplied by.
    public let initNoiseSigma: Float

    /// S, the number of denoising steps.
    public var stepCount: Int { timesteps.count }

    /// The Karras schedule of `set_timesteps(numInferenceSteps)`, with `sigma_min`/`sigma_max` and
    /// `timestep_spacing` from the scheduler config.
    public init(sigmaMin: Double, sigmaMax: Double, timestepSpacing: String, numInferenceSteps: Int) {
        precondition(numInferenceSteps >= 1, "numInferenceSteps must be at least 1")
        let karras = Self.karrasSigmas(sigmaMin: sigmaMin, sigmaMax: sigmaMax, steps: numInferenceSteps)
        self.init(float32Sigmas: karras.map { Float($0) } + [0], timestepSpacing: timestepSpacing)
    }

    /// `set_timesteps(sigmas: ...)`: the list is cast to float32 and used as is, with no 0 appended, so
    /// it holds S + 1 values including the final one.
    public init(sigmas: [Double], timestepSpacing: String) {
        precondition(sigmas.count >= 2, "a custom sigma list needs at least two values (S + 1 with S ≥ 1)")
        self.init(float32Sigmas: sigmas.map { Float($0) }, timestepSpacing: timestepSpacing)
    }

    private init(float32Sigmas: [Float], timestepSpacing: String) {
        sigmas = float32Sigmas
        timesteps = float32Sigmas.dropLast().map(Self.continuousTimestep)
        let maxSigma = float32Sigmas.max()!
        // diffusers: max σ itself for "linspace"/"trailing", √(max² + 1) for anything else ("leading" in SVD).
        initNoiseSigma = (timestepSpacing == "linspace" || timestepSpacing == "trailing")
            ? maxSigma : (maxSigma * maxSigma + 1).squareRoot()
    }

    /// `_convert_to_karras` in numpy float64, ρ = 7; the ramp is numpy's `linspace(0, 1, steps)`
    /// (i · fl(1/(steps−1)), last element exactly 1).
    public static func karrasSigmas(sigmaMin: Double, sigmaMax: Double, steps: Int) -> [Double] {
        let rho = 7.0
        let minInvRho = pow(sigmaMin, 1 / rho)
        let maxInvRho = pow(sigmaMax, 1 / rho)
        let span = minInvRho - maxInvRho
        let increment = steps > 1 ? 1 / Double(steps - 1) : 0
        return (0..<steps).map { i in
            let ramp = (steps > 1 && i == steps - 1) ? 1 : Double(i) * increment
            return pow(maxInvRho + ramp * span, rho)
        }
    }

    /// t = 0.25 · ln σ in float32. torch's float32 log is within 1 ulp of the exact value but not always
    /// correctly rounded, so t can be 1 ulp from diffusers' value; the UNet is insensitive to that.
    /// glibc's `logf` agrees with torch on more of the reference values than a correctly rounded log does.
    static func continuousTimestep(_ sigma: Float) -> Float {
        0.25 * logf(sigma)
    }

    // MARK: Model input and step

    /// fl32(√(σ_i² + 1)), the divisor of `scale_model_input` (c_in = 1 / this).
    public func inputDivisor(step i: Int) -> Float {
        let sigma = sigmas[i]
        return (sigma * sigma + 1).squareRoot()
    }

    /// `scale_model_input`: sample / √(σ_i² + 1), a float32 division (not a reciprocal multiply).
    public func scaleModelInput(_ sample: Tensor, step i: Int) -> Tensor {
        let divisor = inputDivisor(step: i)
        let out = Tensor(uninitialized: sample.shape)
        let x = sample.data, y = out.data
        for k in 0..<sample.count { y[k] = x[k] / divisor }
        return out
    }

    /// One Euler step from σ_i to σ_{i+1} for a v-prediction `modelOutput` (after guidance), in diffusers'
    /// float32 operation order:
    ///   x0 = v·(−σ/√(σ²+1)) + x/(σ²+1);  x' = x + ((x − x0)/σ)·(σ_{i+1} − σ).
    public func step(modelOutput: Tensor, sample: Tensor, step i: Int) -> Tensor {
        precondition(modelOutput.count == sample.count, "model output and sample differ in size")
        precondition(i >= 0 && i < stepCount, "step \(i) is outside 0..<\(stepCount)")
        let out = Tensor(uninitialized: sample.shape)
        Self.eulerStep(v: modelOutput.data, x: sample.data, out: out.data, count: sample.count,
                       sigma: sigmas[i], sigmaNext: sigmas[i + 1])
        return out
    }

    /// The step on raw buffers (`out` may alias `x`). σ̂ = σ since s_churn = 0, so no noise is drawn.
    public static func eulerStep(v: UnsafePointer<Float>, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                                 count: Int, sigma: Float, sigmaNext: Float) {
        let sigmaSqPlus1 = sigma * sigma + 1
        let cOut = -sigma / sigmaSqPlus1.squareRoot()
        let dt = sigmaNext - sigma
        for k in 0..<count {
            let xk = x[k]
            let denoised = v[k] * cOut + xk / sigmaSqPlus1
            let derivative = (xk - denoised) / sigma
            out[k] = xk + derivative * dt
        }
    }
}
