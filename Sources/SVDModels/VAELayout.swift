/// The VAE's structure, worked out once from its config: the encoder's down blocks and the temporal decoder's
/// mid and up blocks with their widths. The networks (`VAEEncoder`, `TemporalDecoder`, and through them the weight
/// manifest), the operation counts and the decoder's memory estimate all walk this description.
public struct VAELayout: Sendable, Equatable {
    /// A `DownEncoderBlock2D` (encoder, `resample` = a stride-2 downsample after the resnets) or an
    /// `UpBlockTemporalDecoder` (decoder, `resample` = a nearest-×2 upsample and conv).
    public struct Block: Sendable, Equatable {
        public let inChannels: Int
        public let outChannels: Int
        public let resnets: Int
        public let resample: Bool

        public func resnetInput(_ j: Int) -> Int { j == 0 ? inChannels : outChannels }
    }

    /// Image channels in (encoder) and out (decoder).
    public let imageChannels: Int
    public let outChannels: Int
    public let latentChannels: Int
    public let encoder: [Block]
    /// The encoder's and the decoder's mid-block width (the widest block).
    public let midChannels: Int
    /// `MidBlockTemporalDecoder(num_layers: layers_per_block)` stores that many resnets and one attention, but
    /// its forward zips resnets[1...] with the attentions: it runs resnet 0, then (attention, resnet 1) when
    /// there are two or more.
    public let decoderMidResnetsStored: Int
    public var decoderMidResnetsRun: Int { min(decoderMidResnetsStored, 2) }
    public var decoderMidRunsAttention: Bool { decoderMidResnetsStored >= 2 }
    public let decoder: [Block]

    public init(_ c: VAEConfig) {
        self.init(blockOutChannels: c.blockOutChannels, layersPerBlock: c.layersPerBlock, latentChannels: c.latentChannels,
                  imageChannels: c.inChannels, outChannels: c.outChannels)
    }

    public init(blockOutChannels ch: [Int], layersPerBlock layers: Int, latentChannels: Int, imageChannels: Int = 3,
                outChannels: Int = 3) {
        precondition(!ch.isEmpty, "VAE: no blocks")
        self.imageChannels = imageChannels
        self.outChannels = outChannels
        self.latentChannels = latentChannels
        encoder = ch.indices.map { i in
            Block(inChannels: ch[max(i - 1, 0)], outChannels: ch[i], resnets: layers, resample: i < ch.count - 1)
        }
        midChannels = ch[ch.count - 1]
        decoderMidResnetsStored = layers
        let reversed = Array(ch.reversed())
        decoder = reversed.indices.map { i in
            Block(inChannels: reversed[max(i - 1, 0)], outChannels: reversed[i], resnets: layers + 1,
                  resample: i < reversed.count - 1)
        }
    }
}
