/// The UNet's structure, worked out once from its config: every block with its widths, its attention and the
/// skip tensors it pushes or takes. The network (`UNetSpatioTemporal`, and through it the weight manifest), its
/// operation count (`OperationCount.unet`) and the memory estimate all walk this one description, so a change
/// to the architecture is made here.
public struct UNetLayout: Sendable, Equatable {
    /// `CrossAttnDownBlockSpatioTemporal` (heads set) or `DownBlockSpatioTemporal`, at latent level `index`.
    public struct DownBlock: Sendable, Equatable {
        public let inChannels: Int
        public let outChannels: Int
        public let layers: Int
        /// Attention heads; nil for a block without attention.
        public let heads: Int?
        public let transformerLayers: Int
        /// A stride-2 conv after the resnets (every block but the last).
        public let downsample: Bool

        public func resnetInput(_ j: Int) -> Int { j == 0 ? inChannels : outChannels }
    }

    /// `UNetMidBlockSpatioTemporal`: resnet, transformer, resnet at the bottom level.
    public struct MidBlock: Sendable, Equatable {
        public let channels: Int
        public let heads: Int
        public let transformerLayers: Int
    }

    /// `UpBlockSpatioTemporal` or `CrossAttnUpBlockSpatioTemporal` (heads set), at latent level `level`: resnet
    /// j concatenates the skip tensor of width `skipChannels[j]` after its input.
    public struct UpBlock: Sendable, Equatable {
        public let level: Int
        public let inChannels: Int
        public let outChannels: Int
        public let skipChannels: [Int]
        public let heads: Int?
        public let transformerLayers: Int
        /// A nearest-×2 upsample and conv after the resnets (every block but the last).
        public let upsample: Bool

        public func resnetInput(_ j: Int) -> Int { (j == 0 ? inChannels : outChannels) + skipChannels[j] }
    }

    /// A tensor the down path keeps for the up path: its width and the latent level it has the size of.
    public struct Skip: Sendable, Equatable {
        public let channels: Int
        public let level: Int
    }

    public let inChannels: Int
    public let outChannels: Int
    /// conv_in's width, and the width of the sinusoidal timestep embedding.
    public let baseChannels: Int
    public let timeEmbedDim: Int
    public let additionTimeEmbedDim: Int
    /// add_embedding's input: the three added time ids, each embedded at additionTimeEmbedDim.
    public let addedTimeInputDim: Int
    public let crossAttentionDim: Int
    public let down: [DownBlock]
    public let mid: MidBlock
    public let up: [UpBlock]
    /// Every skip tensor in the order the down path pushes them (conv_in's first).
    public let skips: [Skip]

    public var levels: Int { down.count }

    public init(_ c: UNetConfig) {
        let ch = c.blockOutChannels, n = ch.count
        inChannels = c.inChannels
        outChannels = c.outChannels
        baseChannels = ch[0]
        timeEmbedDim = c.timeEmbedDim
        additionTimeEmbedDim = c.additionTimeEmbedDim
        addedTimeInputDim = c.projectionClassEmbeddingsInputDim
        crossAttentionDim = c.crossAttentionDim

        var skips = [Skip(channels: ch[0], level: 0)]
        down = (0..<n).map { i in
            let last = i == n - 1
            skips += Array(repeating: Skip(channels: ch[i], level: i), count: c.layersPerBlock[i])
            if !last { skips.append(Skip(channels: ch[i], level: i + 1)) }
            return DownBlock(inChannels: ch[max(i - 1, 0)], outChannels: ch[i], layers: c.layersPerBlock[i],
                             heads: c.downBlockHasAttention(i) ? c.numAttentionHeads[i] : nil,
                             transformerLayers: c.transformerLayersPerBlock[i], downsample: !last)
        }
        self.skips = skips
        mid = MidBlock(channels: ch[n - 1], heads: c.numAttentionHeads[n - 1],
                       transformerLayers: c.transformerLayersPerBlock[n - 1])
        // Up block i mirrors down block n−1−i with one resnet more; each resnet takes the top skip tensor.
        var stack = skips
        var current = ch[n - 1]
        up = (0..<n).map { i in
            let level = n - 1 - i
            let taken = (0...c.layersPerBlock[level]).map { _ in stack.removeLast().channels }
            defer { current = ch[level] }
            return UpBlock(level: level, inChannels: current, outChannels: ch[level], skipChannels: taken,
                           heads: c.upBlockHasAttention(i) ? c.numAttentionHeads[level] : nil,
                           transformerLayers: c.transformerLayersPerBlock[level], upsample: i < n - 1)
        }
    }

    /// Latent positions (height × width) at each level: the stride-2 downsamplers give ⌈n/2⌉, and the up path
    /// returns to the same sizes.
    public func latentPositions(height: Int, width: Int) -> [Int] {
        var (h, w) = (height, width)
        return (0..<levels).map { _ in
            defer { (h, w) = ((h + 1) / 2, (w + 1) / 2) }
            return h * w
        }
    }
}
