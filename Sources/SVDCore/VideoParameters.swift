
/// Everything that, with the model and the input image, determines a clip's frames. Values are always
/// effective values (defaults resolved), never "default".
public struct VideoParameters: Codable, Hashable, Sendable {
    public var width: Int
    public var height: Int
    public var numFrames: Int
    public var numInferenceSteps: Int
    public var fps: Int
    public var motionBucketId: Int
    public var noiseAugStrength: Double
    public var minGuidanceScale: Double
    public var maxGuidanceScale: Double
    public var decodeChunkSize: Int
    public var seed: Seed

    enum CodingKeys: String, CodingKey {
        case width, height, seed, fps
        case numFrames = "num_frames"
        case numInferenceSteps = "num_inference_steps"
        case motionBucketId = "motion_bucket_id"
        case noiseAugStrength = "noise_aug_strength"
        case minGuidanceScale = "min_guidance_scale"
        case maxGuidanceScale = "max_guidance_scale"
        case decodeChunkSize = "decode_chunk_size"
    }

    /// diffusers' `__call__` defaults; `numFrames` comes from the UNet config, and `decodeChunkSize`
    /// defaults to `numFrames`, as in diffusers.
    public init(seed: Seed, numFrames: Int, width: Int = 1024, height: Int = 576, numInferenceSteps: Int = 25,
                fps: Int = 7, motionBucketId: Int = 127, noiseAugStrength: Double = 0.02,
                minGuidanceScale: Double = 1.0, maxGuidanceScale: Double = 3.0, decodeChunkSize: Int? = nil) {
        self.seed = seed
        self.numFrames = numFrames
        self.width = width
        self.height = height
        self.numInferenceSteps = numInferenceSteps
        self.fps = fps
        self.motionBucketId = motionBucketId
        self.noiseAugStrength = noiseAugStrength
        self.minGuidanceScale = minGuidanceScale
        self.maxGuidanceScale = maxGuidanceScale
        self.decodeChunkSize = decodeChunkSize ?? numFrames
    }

    /// Classifier-free guidance runs iff max guidance > 1 (decided as diffusers does).
    public var usesGuidance: Bool { maxGuidanceScale > 1 }
}
