import Foundation
import SVDCore

// The configs of the pipeline around the networks: scheduler, image normalisation and the component index.

// MARK: - Scheduler

/// `scheduler/scheduler_config.json` (`EulerDiscreteScheduler`). The engine implements the scheduler exactly as
/// SVD configures it: Karras sigmas between explicit `sigma_min`/`sigma_max`, continuous
/// v-prediction timesteps and a final sigma of zero. Any other setting that would change the sampling is refused
/// when the config is read, rather than silently ignored.
public struct SchedulerConfig: ModelConfigFile {
    public static let fileName = "scheduler/scheduler_config.json"

    /// `timestep_spacing`. Under Karras sigmas it only decides the initial noise scale.
    public enum TimestepSpacing: String, Codable, Equatable, Sendable {
        case leading, linspace, trailing

        /// Whether the initial noise is scaled by √(σ_max² + 1) (true) or by σ_max itself.
        public var initNoiseIncludesUnitVariance: Bool { self == .leading }
    }

    public let numTrainTimesteps: Int
    public let betaStart: Double
    public let betaEnd: Double
    public let betaSchedule: String
    /// Only "v_prediction" validates.
    public let predictionType: String
    /// Only "continuous" validates: timesteps are 0.25 · ln σ.
    public let timestepType: String
    /// Only true validates.
    public let useKarrasSigmas: Bool
    public let sigmaMin: Double
    public let sigmaMax: Double
    public let timestepSpacing: TimestepSpacing
    /// Only "zero" validates.
    public let finalSigmasType: String
    public let stepsOffset: Int
    public let interpolationType: String

    enum CodingKeys: String, CodingKey {
        case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end"
        case betaSchedule = "beta_schedule", predictionType = "prediction_type", timestepType = "timestep_type"
        case useKarrasSigmas = "use_karras_sigmas", sigmaMin = "sigma_min", sigmaMax = "sigma_max"
        case timestepSpacing = "timestep_spacing", finalSigmasType = "final_sigmas_type"
        case stepsOffset = "steps_offset", interpolationType = "interpolation_type"
    }

    /// The SVD scheduler.
    public static let svd = try! SchedulerConfig(sigmaMin: 0.002, sigmaMax: 700, timestepSpacing: .leading)

    /// A config the engine can run. Settings with no effect under Karras sigmas are kept for reference only.
    public init(sigmaMin: Double, sigmaMax: Double, timestepSpacing: TimestepSpacing = .leading,
                numTrainTimesteps: Int = 1000, betaStart: Double = 0.00085, betaEnd: Double = 0.012,
                betaSchedule: String = "scaled_linear", stepsOffset: Int = 1, interpolationType: String = "linear") throws {
        self.numTrainTimesteps = numTrainTimesteps
        self.betaStart = betaStart
        self.betaEnd = betaEnd
        self.betaSchedule = betaSchedule
        predictionType = "v_prediction"
        timestepType = "continuous"
        useKarrasSigmas = true
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        self.timestepSpacing = timestepSpacing
        finalSigmasType = "zero"
        self.stepsOffset = stepsOffset
        self.interpolationType = interpolationType
        _ = try validated(as: "SchedulerConfig")
    }

    /// Absent keys take diffusers' `EulerDiscreteScheduler` defaults; several of those fail validation.
    public init(from decoder: Decoder) throws {
        try ConfigKey.expectClass(["EulerDiscreteScheduler"], in: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let other = try decoder.container(keyedBy: ConfigKey.self)
        for key in ["use_exponential_sigmas", "use_beta_sigmas"] where try other.bool(ConfigKey(key)) ?? false {
            throw ConfigKeyError.unsupported(key, "must be false; only the Karras sigma schedule (SVD) is implemented")
        }
        // Without explicit endpoints diffusers derives them from the training betas; this engine needs them given.
        func sigma(_ key: CodingKeys) throws -> Double {
            guard let value = try c.double(key) else {
                throw ConfigKeyError.unsupported(key.rawValue, "is absent; the Karras schedule needs explicit sigma_min and sigma_max (SVD: 0.002 and 700.0)")
            }
            return value
        }
        let spacing = try c.string(.timestepSpacing) ?? TimestepSpacing.linspace.rawValue
        guard let timestepSpacing = TimestepSpacing(rawValue: spacing) else {
            throw ConfigKeyError.invalid(CodingKeys.timestepSpacing.rawValue, "'\(spacing)' is not 'leading', 'linspace' or 'trailing'")
        }
        self.timestepSpacing = timestepSpacing
        predictionType = try c.string(.predictionType) ?? "epsilon"
        timestepType = try c.string(.timestepType) ?? "discrete"
        useKarrasSigmas = try c.bool(.useKarrasSigmas) ?? false
        finalSigmasType = try c.string(.finalSigmasType) ?? "zero"
        sigmaMin = try sigma(.sigmaMin)
        sigmaMax = try sigma(.sigmaMax)
        numTrainTimesteps = try c.int(.numTrainTimesteps) ?? 1000
        betaStart = try c.double(.betaStart) ?? 0.0001
        betaEnd = try c.double(.betaEnd) ?? 0.02
        betaSchedule = try c.string(.betaSchedule) ?? "linear"
        stepsOffset = try c.int(.stepsOffset) ?? 0
        interpolationType = try c.string(.interpolationType) ?? "linear"
    }

    public func validate() throws {
        guard predictionType == "v_prediction" else {
            throw ConfigKeyError.unsupported("prediction_type", "'\(predictionType)' (diffusers' default when the key is absent is 'epsilon'); only 'v_prediction' (SVD) is implemented")
        }
        guard timestepType == "continuous" else {
            throw ConfigKeyError.unsupported("timestep_type", "'\(timestepType)' (diffusers' default when the key is absent is 'discrete'); only 'continuous' (SVD) is implemented")
        }
        guard useKarrasSigmas else {
            throw ConfigKeyError.unsupported("use_karras_sigmas", "must be true; only the Karras sigma schedule (SVD) is implemented")
        }
        guard finalSigmasType == "zero" else {
            throw ConfigKeyError.unsupported("final_sigmas_type", "'\(finalSigmasType)'; only 'zero' (SVD) is implemented")
        }
        try ConfigRules.positive("sigma_min", sigmaMin)
        guard sigmaMax.isFinite, sigmaMax > sigmaMin else {
            throw ConfigKeyError.invalid("sigma_max", "must be a number above sigma_min (\(sigmaMin)), found \(sigmaMax)")
        }
        try ConfigRules.positive("num_train_timesteps", numTrainTimesteps)
    }
}

// MARK: - Feature extractor

/// `feature_extractor/preprocessor_config.json` (`CLIPImageProcessor`). The pipeline overrides resizing,
/// cropping and rescaling, so only the normalisation constants are read.
public struct FeatureExtractorConfig: ModelConfigFile {
    public static let fileName = "feature_extractor/preprocessor_config.json"
    public static let openAICLIPMean = [0.48145466, 0.4578275, 0.40821073]
    public static let openAICLIPStd = [0.26862954, 0.26130258, 0.27577711]

    /// Per-channel mean and standard deviation (RGB) applied after scaling pixels to [0, 1].
    public let imageMean: [Double]
    public let imageStd: [Double]

    enum CodingKeys: String, CodingKey {
        case imageMean = "image_mean", imageStd = "image_std"
    }

    public init(imageMean: [Double] = openAICLIPMean, imageStd: [Double] = openAICLIPStd) throws {
        self.imageMean = imageMean
        self.imageStd = imageStd
        _ = try validated(as: "FeatureExtractorConfig")
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // transformers also accepts a single number for every channel.
        func triple(_ key: CodingKeys) throws -> [Double]? {
            if let x = try c.json(key)?.doubleValue { return [x, x, x] }
            return try c.doubles(key)
        }
        imageMean = try triple(.imageMean) ?? Self.openAICLIPMean
        imageStd = try triple(.imageStd) ?? Self.openAICLIPStd
    }

    public func validate() throws {
        guard imageMean.count == 3, imageMean.allSatisfy(\.isFinite) else {
            throw ConfigKeyError.invalid("image_mean", "needs three finite numbers (R, G, B), found \(imageMean)")
        }
        guard imageStd.count == 3, imageStd.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw ConfigKeyError.invalid("image_std", "needs three positive numbers (R, G, B), found \(imageStd)")
        }
    }
}

// MARK: - model_index.json

/// `model_index.json`: the pipeline class and the library/class of each component.
public struct ModelIndex: ModelConfigFile {
    public struct Component: Equatable, Sendable {
        public let library: String
        public let className: String
    }

    public static let fileName = "model_index.json"
    public static let pipelineClass = "StableVideoDiffusionPipeline"
    /// Component → class names this engine can stand in for.
    public static let acceptedClasses: [String: [String]] = [
        "feature_extractor": ["CLIPImageProcessor", "CLIPImageProcessorFast", "CLIPFeatureExtractor"],
        "image_encoder": ["CLIPVisionModelWithProjection"],
        "scheduler": ["EulerDiscreteScheduler"],
        "unet": ["UNetSpatioTemporalConditionModel"],
        "vae": ["AutoencoderKLTemporalDecoder"],
    ]

    public let className: String
    public let diffusersVersion: String?
    public let components: [String: Component]

    /// The pipeline every SVD model in diffusers layout declares (a single checkpoint file has no index).
    public static let stableVideoDiffusion = try! ModelIndex.decode(Data("""
        {"_class_name": "StableVideoDiffusionPipeline", "feature_extractor": ["transformers", "CLIPImageProcessor"],
         "image_encoder": ["transformers", "CLIPVisionModelWithProjection"], "scheduler": ["diffusers", "EulerDiscreteScheduler"],
         "unet": ["diffusers", "UNetSpatioTemporalConditionModel"], "vae": ["diffusers", "AutoencoderKLTemporalDecoder"]}
        """.utf8))

    private static let versionKey = ConfigKey("_diffusers_version")

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: ConfigKey.self)
        guard let name = try c.string(.className) else {
            throw ConfigKeyError.invalid(ConfigKey.className.stringValue, "is missing; expected '\(Self.pipelineClass)'")
        }
        var components: [String: Component] = [:]
        for key in Self.acceptedClasses.keys.sorted() {
            guard let v = try c.json(ConfigKey(key)) else {
                throw ConfigKeyError.invalid(key, "component is missing; a \(Self.pipelineClass) needs \(Self.acceptedClasses.keys.sorted().joined(separator: ", "))")
            }
            guard let pair = v.arrayValue, pair.count == 2, let library = pair[0].stringValue,
                  let cls = pair[1].stringValue else {
                throw ConfigKeyError.wrongType(key, "a [library, class] pair of strings", v)
            }
            components[key] = Component(library: library, className: cls)
        }
        className = name
        diffusersVersion = try c.string(Self.versionKey)
        self.components = components
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: ConfigKey.self)
        try c.encode(className, forKey: .className)
        try c.encodeIfPresent(diffusersVersion, forKey: Self.versionKey)
        for (key, component) in components { try c.encode([component.library, component.className], forKey: ConfigKey(key)) }
    }

    public func validate() throws {
        guard className == Self.pipelineClass else {
            throw ConfigKeyError.unsupported(ConfigKey.className.stringValue, "'\(className)' is not '\(Self.pipelineClass)'")
        }
        for (key, component) in components.sorted(by: { $0.key < $1.key }) {
            let accepted = Self.acceptedClasses[key] ?? []
            guard accepted.contains(component.className) else {
                throw ConfigKeyError.unsupported(key, "class '\(component.className)' (expected \(accepted.joined(separator: " or ")))")
            }
        }
    }
}
