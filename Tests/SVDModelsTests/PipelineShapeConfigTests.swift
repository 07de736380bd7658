import Foundation
import XCTest
@testable import SVDModels

/// The pipeline's fixed shapes (4 latent channels, an 8× VAE, 224-pixel CLIP input) are checked when a model
/// folder loads, so a config that disagrees is an error naming the key instead of a crash mid-render.
final class PipelineShapeConfigTests: XCTestCase {
    func testConfigsThePipelineCannotRunAreRefusedAtLoad() throws {
        let cases: [(String, String, (inout [String: Any]) -> Void, String)] = [
            ("image_encoder/config.json", "image_size", { $0["image_size"] = 336 }, "image_size"),
            ("vae/config.json", "block_out_channels", {
                $0["block_out_channels"] = [32, 32, 64]
                $0["down_block_types"] = Array(repeating: "DownEncoderBlock2D", count: 3)
            }, "3 blocks"),
        ]
        for (file, key, edit, expected) in cases {
            let model = try DemoModelCopy()
            try model.editJSON(file, edit)
            XCTAssertThrowsError(try ModelDirectory(url: model.url)) { error in
                guard case let .inconsistentConfigs(_, reasons)? = error as? ModelDirectoryError else {
                    return XCTFail("\(key): unexpected error \(error)")
                }
                XCTAssertTrue(reasons.contains { $0.contains(expected) }, "\(key): \(reasons)")
            }
        }
    }
}
