import Foundation
import TestSupport

/// The committed golden frame hashes (Tests/Fixtures/golden-frames.json) and the reference cases as job-list
/// rows: what the golden-frame tests of the library and of the executable render and compare.
public enum GoldenFrames {
    public struct Hashes: Decodable {
        /// Clip file name → frames_sha256, for the sample batch (Samples/jobs.csv) and for the reference cases.
        public let samples: [String: String]
        public let cases: [String: String]
    }

    public static let expected: Hashes = {
        let data = try! Data(contentsOf: Fixtures.directory.appendingPathComponent("golden-frames.json"))
        return try! JSONDecoder().decode(Hashes.self, from: data)
    }()

    /// The reference cases as job-list rows, with their parameters from case.json.
    public static func casesCSV() throws -> String {
        var rows = ["image,seed,name,width,height,num_frames,num_inference_steps,fps,motion_bucket_id,noise_aug_strength,min_guidance_scale,max_guidance_scale,decode_chunk_size,format"]
        for name in ["basic", "resize-chunked"] {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.casePath(name, "case.json")))) as! [String: Any]
            func value(_ key: String) -> String { "\(json[key]!)" }
            rows.append([Fixtures.casePath(name, "input.png"), value("seed"), name, value("width"), value("height"),
                         value("num_frames"), value("num_inference_steps"), value("fps"), value("motion_bucket_id"),
                         value("noise_aug_strength"), value("min_guidance_scale"), value("max_guidance_scale"),
                         value("decode_chunk_size"), "mkv"].joined(separator: ","))
        }
        return rows.joined(separator: "\n") + "\n"
    }
}
