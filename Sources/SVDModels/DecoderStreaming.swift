import SVDCore

/// How many frames the streamed decoder works on at once. Per-image layers and temporal convolutions give the
/// same bits for any grouping; groups only trade memory for parallelism: at low resolution a group is the
/// whole chunk (enough tasks for every worker), at high resolution a single frame.
public enum DecoderStreaming {
    /// Bytes of per-group intermediates a stage aims at.
    public static let groupBudget = 512 << 20
    /// Live per-frame tensors of a per-image stage, in units of its widest per-frame tensor (a resnet holds
    /// its input, two norm outputs, a conv output and the shortcut; an upsampler its input and two ×4 maps).
    public static let frameStageLiveTensors = 4

    /// Frames per group when one frame costs `frameBytes`, within `budget`; never less than one.
    public static func framesPerGroup(frameBytes: Int, budget: Int = groupBudget) -> Int {
        max(1, budget / max(frameBytes, 1))
    }
}

/// A decoder layer that never mixes frames, so it can run on any subset of them.
struct FrameLayer {
    let apply: (Tensor) -> Tensor
    /// Activation-trace names recorded on this layer's output.
    let traceNames: [String]
    init(traceNames: [String] = [], _ apply: @escaping (Tensor) -> Tensor) {
        self.apply = apply
        self.traceNames = traceNames
    }
}

/// Consecutive per-image layers run a group of frames at a time, each group written into one preallocated
/// output, so their intermediates exist only for the frames in flight.
struct FrameStage {
    let layers: [FrameLayer]
    let budget: Int

    /// x [n, C, y, x] → the layers' output for all n frames.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let n = x.shape[0]
        // The first frame alone gives the output size and the widest per-frame tensor.
        var widest = x.count / n
        var h = x.slice(first: 0, 1)
        for layer in layers {
            h = layer.apply(h)
            widest = max(widest, h.count)
        }
        let output = Tensor(uninitialized: [n] + Array(h.shape.dropFirst()))
        let frameSize = h.count
        output.data.update(from: h.data, count: frameSize)
        h = output  // releases the first frame's result
        let group = DecoderStreaming.framesPerGroup(
            frameBytes: DecoderStreaming.frameStageLiveTensors * widest * 4, budget: budget)
        var start = 1
        while start < n {
            let count = min(group, n - start)
            var g = x.slice(first: start, count)
            for layer in layers { g = layer.apply(g) }
            (output.data + start * frameSize).update(from: g.data, count: g.count)
            start += count
        }
        return output
    }
}

extension SpatioTemporalResBlock {
    /// The spatial resnet as a per-image layer (the decoder's blocks have no time embedding).
    var spatialLayer: FrameLayer {
        FrameLayer(traceNames: [path + ".spatial_res_block"]) { [spatial] in spatial($0, temb: nil) }
    }

    /// The temporal resnet and the blend, with `s` [b·F, C, y, x] the spatial resnet's output, overwritten by
    /// the block's output. Besides `s` only the first temporal conv's output exists for the whole chunk;
    /// normalised frames and the second conv's output exist a group at a time (see `StreamedTemporalConv`).
    /// Same arithmetic as `callAsFunction(_:temb:frames:)`: r = conv2(…) + s, then α·s + (1−α)·r.
    func mixTemporally(_ s: Tensor, frames: Int, budget: Int) {
        precondition(temporal.timeEmbProj == nil, "streamed temporal block without time embedding only")
        let c = s.shape[1], spatialSize = s.count / (s.shape[0] * c)
        let videoSize = frames * c * spatialSize, frameBytes = c * spatialSize * 4
        // Per group: the ring of normalised inputs (group + 2) and the second conv's output (group).
        let group = DecoderStreaming.framesPerGroup(frameBytes: 2 * frameBytes, budget: budget)
        let conv1 = StreamedTemporalConv(weight: temporal.conv1.weight, bias: temporal.conv1.bias)
        let conv2 = StreamedTemporalConv(weight: temporal.conv2.weight, bias: temporal.conv2.bias)
        precondition(conv1.outChannels == c && conv2.outChannels == c, "temporal block changes width")
        let first = Tensor(uninitialized: [frames, c] + Array(s.shape.dropFirst(2)))
        var groupOut: Tensor?
        let alpha = mixer.alpha, beta: Float = 1 - alpha
        for video in 0..<(s.shape[0] / frames) {
            let x = s.data + video * videoSize
            let norm1 = VideoGroupNorm(x, frames: frames, channels: c, spatial: spatialSize, groups: temporal.norm1.groups,
                                       weight: temporal.norm1.weight, bias: temporal.norm1.bias,
                                       eps: temporal.norm1.eps, silu: true)
            conv1.run(x, frames: frames, spatial: spatialSize, norm: norm1, group: group,
                      destination: { first.data + $0 * c * spatialSize })
            let out = groupOut ?? Tensor(uninitialized: [min(group, frames), c] + Array(s.shape.dropFirst(2)))
            groupOut = out
            let norm2 = VideoGroupNorm(first.data, frames: frames, channels: c, spatial: spatialSize,
                                       groups: temporal.norm2.groups, weight: temporal.norm2.weight,
                                       bias: temporal.norm2.bias, eps: temporal.norm2.eps, silu: true)
            conv2.run(first.data, frames: frames, spatial: spatialSize, norm: norm2, group: group,
                      destination: { _ in out.data }) { f, start, cols, frameOut in
                // The residual and the blend, in place on the spatial output (its last reader).
                let xs = x + f * c * spatialSize
                for ch in 0..<c {
                    let base = ch * spatialSize + start
                    for i in base..<(base + cols) {
                        let r = frameOut[i] + xs[i]
                        xs[i] = alpha * xs[i] + beta * r
                    }
                }
            }
        }
        withExtendedLifetime((first, groupOut)) {}
    }
}
