import SVDCore

/// How many frames the streamed decoder works on at once: the fewest frames whose convolutions still make a
/// few dozen column chunks (one frame at high resolution, more at low), trading memory for parallelism. The
/// grouping is a function of the shapes only, never of the worker count, because convolutions multiply panels
/// across the frames of a group and so their bits depend on it.
public enum DecoderStreaming {
    /// Parallel tasks a group aims at: enough to share out among a few dozen workers.
    public static let groupTasks = 32
    /// Output positions per convolution task (the engine's column chunk).
    static let columnChunk = 2048
    /// Live per-frame tensors of a per-image stage, in units of its widest per-frame tensor: the group's input
    /// copy and output, a resnet's conv outputs and shortcut (its norms are applied as the convolutions read),
    /// or the attention's normed map and q, k, v.
    public static let frameStageLiveTensors = 6

    /// Frames per group for maps of `pixels` positions in a chunk of `frames`, aiming at `tasks` parallel tasks.
    public static func framesPerGroup(pixels: Int, frames: Int, tasks: Int) -> Int {
        let chunksPerFrame = (pixels + columnChunk - 1) / columnChunk
        return min(max(frames, 1), max(1, (tasks + chunksPerFrame - 1) / max(chunksPerFrame, 1)))
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
    let targetTasks: Int

    /// x [n, C, y, x] → the layers' output for all n frames.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let n = x.shape[0]
        // The first frame alone gives the output size.
        var h = x.slice(first: 0, 1)
        for layer in layers { h = layer.apply(h) }
        let output = Tensor(uninitialized: [n] + Array(h.shape.dropFirst()))
        let frameSize = h.count
        output.data.update(from: h.data, count: frameSize)
        h = output  // releases the first frame's result
        // Sized on the input's positions, the fewest of the stage (its layers keep or upsample the map).
        let group = DecoderStreaming.framesPerGroup(pixels: x.count / (n * x.shape[1]), frames: n - 1,
                                                    tasks: targetTasks)
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
    func mixTemporally(_ s: Tensor, frames: Int, targetTasks: Int) {
        precondition(temporal.timeEmbProj == nil, "streamed temporal block without time embedding only")
        let c = s.shape[1], spatialSize = s.count / (s.shape[0] * c)
        let alpha = mixer.alpha, beta: Float = 1 - alpha
        if spatialSize < Convolution.directTemporalPositions {
            // Small maps: the whole-chunk block (its convolutions multiply panels across frames), blended in place.
            let r = temporal(s, temb: nil, frames: frames)
            let sp = s.data, rp = r.data
            Parallel.forChunks(s.count, chunk: 1 << 16) { range in
                for i in range { sp[i] = alpha * sp[i] + beta * rp[i] }
            }
            withExtendedLifetime(r) {}
            return
        }
        let videoSize = frames * c * spatialSize
        // Per group: the ring of normalised inputs (group + 2) and the second conv's output (group).
        let group = DecoderStreaming.framesPerGroup(pixels: spatialSize, frames: frames, tasks: targetTasks)
        let conv1 = temporal.conv1.weight.withFloat32 { StreamedTemporalConv(weight: $0, bias: temporal.conv1.bias) }
        let conv2 = temporal.conv2.weight.withFloat32 { StreamedTemporalConv(weight: $0, bias: temporal.conv2.bias) }
        precondition(conv1.outChannels == c && conv2.outChannels == c, "temporal block changes width")
        let first = Tensor(uninitialized: [frames, c] + Array(s.shape.dropFirst(2)))
        var groupOut: Tensor?
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
