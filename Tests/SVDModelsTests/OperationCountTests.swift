import XCTest
@testable import SVDModels

/// The nominal operation counts equal what torch's FlopCounterMode reports for diffusers 0.42.1 / transformers
/// 5.24.0 on the same architecture and sizes (torch 2.15, `Tests/Benchmarks/flop_counts.py`). The architectures
/// are built from their config values here, so the test needs neither the model folders nor torch.
final class OperationCountTests: XCTestCase {
    // Samples/demo-model's configs.
    let demoUNet = try! UNetConfig(blockOutChannels: [32, 32, 64, 64], numAttentionHeads: [2, 2, 4, 4],
                                   crossAttentionDim: 32, additionTimeEmbedDim: 16,
                                   projectionClassEmbeddingsInputDim: 48)
    let demoVAE = try! VAEConfig(downBlockTypes: Array(repeating: VAEConfig.downEncoderBlock, count: 4),
                                 blockOutChannels: [32, 32, 64, 64], layersPerBlock: 2)
    let demoCLIP = try! CLIPVisionConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                         numAttentionHeads: 2, patchSize: 14, projectionDim: 32, hiddenAct: .gelu)
    // Full-size SVD-XT (Tests/Benchmarks/make_full_size_model.py): diffusers' UNet defaults, SVD's VAE widths,
    // OpenCLIP ViT-H/14.
    let fullUNet = try! UNetConfig()
    let fullVAE = try! VAEConfig(downBlockTypes: Array(repeating: VAEConfig.downEncoderBlock, count: 4),
                                 blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2)
    let fullCLIP = try! CLIPVisionConfig(hiddenSize: 1280, intermediateSize: 5120, numHiddenLayers: 32,
                                         numAttentionHeads: 16, patchSize: 14, projectionDim: 1024, hiddenAct: .gelu)

    /// [unet (guidance batch of 2), decode (one chunk), encode, clip] for `frames` frames of width × height pixels.
    func counts(_ unet: UNetConfig, _ vae: VAEConfig, _ clip: CLIPVisionConfig, frames: Int, width: Int,
                height: Int) -> [Int] {
        let h = height / 8, w = width / 8
        return [OperationCount.unet(unet, videos: 2, frames: frames, latentHeight: h, latentWidth: w),
                OperationCount.temporalDecoder(vae, frames: frames, chunkSize: frames, latentHeight: h, latentWidth: w),
                OperationCount.vaeEncoder(vae, height: height, width: width),
                OperationCount.clipVision(clip)]
    }

    func testCountsMatchTorch() {
        // The demo model at the 'basic' reference size (25 frames at 192×128).
        XCTAssertEqual(counts(demoUNet, demoVAE, demoCLIP, frames: 25, width: 192, height: 128),
                       [31_049_481_216, 176_670_720_000, 3_160_326_144, 34_965_760])
        // 200×136 pixels: latents 25×17, so the UNet's down path rounds up and its up path follows the skips.
        XCTAssertEqual(counts(demoUNet, demoVAE, demoCLIP, frames: 3, width: 200, height: 136),
                       [4_478_532_096, 23_477_462_400, 3_502_217_600, 34_965_760])
        // Full size at the performance issue's anchor: 2 × 14 frames at 128×256 (UNet 4.08 TFLOP).
        XCTAssertEqual(counts(fullUNet, fullVAE, fullCLIP, frames: 14, width: 256, height: 128),
                       [4_076_270_059_520, 5_272_311_037_952, 135_824_211_968, 334_590_279_680])
        // A real SVD-XT step: 2 × 25 frames at 576×1024.
        XCTAssertEqual(OperationCount.unet(fullUNet, videos: 2, frames: 25, latentHeight: 72, latentWidth: 128),
                       159_896_460_492_800)
    }

    func testDecodeCountIsTheSumOfItsChunks() {
        let whole = OperationCount.temporalDecoder(demoVAE, frames: 7, chunkSize: 7, latentHeight: 16, latentWidth: 24)
        let chunked = OperationCount.temporalDecoder(demoVAE, frames: 7, chunkSize: 3, latentHeight: 16, latentWidth: 24)
        // Every layer works per frame (the temporal convs too, with zero padding), so chunking changes nothing.
        XCTAssertEqual(chunked, whole)
        XCTAssertEqual(chunked, 49_467_801_600)  // torch, 7 frames in chunks of 3
    }
}
