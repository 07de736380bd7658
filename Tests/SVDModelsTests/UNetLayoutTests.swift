import XCTest
@testable import SVDModels

/// The one description of the UNet that the network, its weight manifest, its operation count and the memory
/// estimate walk: its channel and skip bookkeeping checked against SVD-XT's published structure.
final class UNetLayoutTests: XCTestCase {
    func testSVDXTBlocksAndSkips() throws {
        let l = UNetLayout(try UNetConfig())
        XCTAssertEqual(l.down.map(\.inChannels), [320, 320, 640, 1280])
        XCTAssertEqual(l.down.map(\.outChannels), [320, 640, 1280, 1280])
        XCTAssertEqual(l.down.map(\.heads), [5, 10, 20, nil])
        XCTAssertEqual(l.down.map(\.downsample), [true, true, true, false])
        XCTAssertEqual(l.mid, UNetLayout.MidBlock(channels: 1280, heads: 20, transformerLayers: 1))
        // diffusers' UNetSpatioTemporalConditionModel: up block i's resnet j reads prev/out + the popped skip.
        XCTAssertEqual(l.up.map { b in b.skipChannels.indices.map(b.resnetInput) },
                       [[2560, 2560, 2560], [2560, 2560, 1920], [1920, 1280, 960], [960, 640, 640]])
        XCTAssertEqual(l.up.map(\.heads), [nil, 20, 10, 5])
        XCTAssertEqual(l.up.map(\.level), [3, 2, 1, 0])
        XCTAssertEqual(l.skips.count, 12, "conv_in, 8 resnets and 3 downsamplers")
        XCTAssertEqual(l.up.flatMap(\.skipChannels).count, l.skips.count, "the up path takes every skip once")
        XCTAssertEqual(l.latentPositions(height: 72, width: 128), [72 * 128, 36 * 64, 18 * 32, 9 * 16])
        XCTAssertEqual(l.latentPositions(height: 9, width: 5), [45, 15, 6, 2], "⌈n/2⌉ per downsampler")
    }

    func testTheBlockTypesDecideWhereAttentionIs() throws {
        let c = try UNetConfig(downBlockTypes: [UNetConfig.downBlock, UNetConfig.crossAttentionDownBlock,
                                                UNetConfig.crossAttentionDownBlock, UNetConfig.downBlock],
                               upBlockTypes: [UNetConfig.upBlock, UNetConfig.crossAttentionUpBlock,
                                              UNetConfig.crossAttentionUpBlock, UNetConfig.upBlock])
        let l = UNetLayout(c)
        XCTAssertEqual(l.down.map(\.heads), [nil, 10, 20, nil])
        XCTAssertEqual(l.up.map(\.heads), [nil, 20, 10, nil])
        // The manifest follows the same description: no attention weights where the layout has none.
        let manifest = WeightManifest.unet(l)
        XCTAssertFalse(manifest.keys.contains { $0.hasPrefix("down_blocks.0.attentions.") })
        XCTAssertTrue(manifest.keys.contains { $0.hasPrefix("down_blocks.1.attentions.0.") })
        XCTAssertFalse(manifest.keys.contains { $0.hasPrefix("up_blocks.3.attentions.") })
    }
}

/// The VAE's one description: encoder and decoder widths, and the decoder mid block that stores more than it runs.
final class VAELayoutTests: XCTestCase {
    func testSVDVAEBlocks() {
        let l = VAELayout(blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, latentChannels: 4)
        XCTAssertEqual(l.encoder.map(\.inChannels), [128, 128, 256, 512])
        XCTAssertEqual(l.encoder.map(\.resample), [true, true, true, false])
        XCTAssertEqual(l.decoder.map(\.inChannels), [512, 512, 512, 256])
        XCTAssertEqual(l.decoder.map(\.outChannels), [512, 512, 256, 128])
        XCTAssertEqual(l.decoder.map(\.resnets), [3, 3, 3, 3])
        XCTAssertEqual(l.midChannels, 512)
        XCTAssertTrue(l.decoderMidRunsAttention)
    }

    func testADecoderMidBlockOfThreeStoresThreeResnetsButRunsTwo() {
        let l = VAELayout(blockOutChannels: [32, 64], layersPerBlock: 3, latentChannels: 4)
        XCTAssertEqual(l.decoderMidResnetsStored, 3)
        XCTAssertEqual(l.decoderMidResnetsRun, 2)
        XCTAssertTrue(WeightManifest.vae(l).keys.contains { $0.hasPrefix("decoder.mid_block.resnets.2.") },
                      "stored weights are expected, so they load without a warning")
        let one = VAELayout(blockOutChannels: [32, 64], layersPerBlock: 1, latentChannels: 4)
        XCTAssertFalse(one.decoderMidRunsAttention)
        XCTAssertEqual(one.decoderMidResnetsRun, 1)
    }
}
