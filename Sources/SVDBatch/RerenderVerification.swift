import Foundation
import SVDCore
import SVDMedia

/// `rerender --verify`: compares a re-render's raw frames with the recipe's `frames_sha256`, and when they
/// differ, measures by how much against the original clip's decoded frames and lists what could explain it.
struct RerenderVerification {
    let recipe: Recipe
    /// The recipe's encoder settings, checked by `RerenderJob.standardEncoder(of:)`: used to re-encode.
    let encoder: EncoderSettings
    let clip: URL
    let frames: [RGBImage]
    let seconds: Double

    var framesSHA256: String { Digests.sha256Hex(frames: frames) }
    var bitExact: Bool { framesSHA256 == recipe.framesSHA256 }

    /// What `--verify` prints on standard output.
    func report() -> String {
        let sha = framesSHA256
        let p = recipe.parameters.video
        if sha == recipe.framesSHA256 {
            return "reproduced: bit-exact (\(frames.count) frames \(p.width)×\(p.height), frames_sha256 \(sha.prefix(16))…; rendered in \(DurationText.text(seconds)) with \(Parallel.workerCount) thread\(Parallel.workerCount == 1 ? "" : "s"), OpenBLAS \(BLAS.version) \(BLAS.coreName) kernels)\n"
        }
        var lines = ["not reproduced: the frames differ from the recipe's (frames_sha256 recorded \(recipe.framesSHA256.prefix(16))…, rendered \(sha.prefix(16))…)"]
        if (try? recipe.recomputedJobKey()) != recipe.jobKey {
            lines.append("  the recipe's job_key does not match its contents: the recipe was edited after the clip was written")
        }
        lines += comparison()
        lines += machineDifferences()
        return lines.joined(separator: "\n") + "\n"
    }

    /// Per-frame max |Δ| and PSNR against the original's decoded frames; for a lossy original, also after
    /// encoding the new frames with the recorded settings (like for like, compression loss on both sides).
    private func comparison() -> [String] {
        let decoded: DecodedClip
        do { decoded = try ClipReader.decode(clip) } catch {
            return ["  the original's frames cannot be decoded for a comparison: \(error)"]
        }
        let original = decoded.frames
        let e = recipe.encoder
        var lines: [String] = []
        let lossless = decoded.probe.stream.isLossless && e.isLossless
        if lossless {
            let own = Digests.sha256Hex(frames: original) == recipe.framesSHA256
            lines.append("  the original is \(e.format.rawValue) (\(e.codec), lossless): its decoded frames are exactly what was encoded, so the figures are the render's own differences")
            lines.append(own ? "  the original's decoded frames match its recipe's frames_sha256"
                             : "  the original's decoded frames do not match its recipe's frames_sha256 either: the clip or its recipe was altered")
        } else {
            lines.append("  the original is \(e.format.rawValue) (\(e.codec), lossy\(e.crf.map { ", CRF \($0)" } ?? "")): its decoded frames carry compression loss, so 'raw' compares the new frames with them as they are, and 're-encoded' first encodes the new frames with the recorded settings (like for like)")
        }
        guard let first = frames.first, let reference = original.first else {
            return lines + ["  nothing to compare: \(frames.count) new frames, \(original.count) in the original"]
        }
        guard first.width == reference.width, first.height == reference.height else {
            return lines + ["  the frames cannot be compared: the original is \(reference.width)×\(reference.height), the re-render \(first.width)×\(first.height)"]
        }
        if frames.count != original.count {
            lines.append("  the original has \(original.count) frames, the re-render \(frames.count): comparing the first \(min(frames.count, original.count))")
        }
        let raw = FrameComparison.compare(frames, with: original)
        let reencoded = lossless ? nil : reencodedComparison(original)
        var header = "  frame  raw max |Δ|  raw PSNR dB"
        if reencoded != nil { header += "  re-encoded max |Δ|  re-encoded PSNR dB" }
        lines.append(header)
        for (i, d) in raw.enumerated() {
            var row = "  " + pad("\(d.index)", 5) + "  " + pad("\(d.maxDifference)", 11) + "  " + pad(FrameComparison.psnrText(d.psnr), 11)
            if let reencoded, i < reencoded.count {
                row += "  " + pad("\(reencoded[i].maxDifference)", 18) + "  " + pad(FrameComparison.psnrText(reencoded[i].psnr), 18)
            }
            lines.append(row)
        }
        return lines
    }

    private func reencodedComparison(_ original: [RGBImage]) -> [FrameDifference]? {
        let temp = FileManager.default.temporaryDirectory
            .appendingPathComponent("svdbatch-verify-\(getpid())-\(UUID().uuidString).\(encoder.format.fileExtension)")
        defer { unlink(temp.path) }
        guard (try? ClipWriter.write(frames, fps: recipe.parameters.video.fps, settings: encoder, comment: nil, to: temp)) != nil,
              let decoded = try? ClipReader.decode(temp) else { return nil }
        return FrameComparison.compare(decoded.frames, with: original)
    }

    /// Each recorded machine or build fact that differs here, and whether bit-identity was still expected
    /// across it; or a line saying nothing differs.
    private func machineDifferences() -> [String] {
        let here = RecipeDiagnostics.current
        let report = ReproducibilityReport(recorded: recipe.diagnostics, recordedVersion: recipe.svdbatchVersion,
                                           here: here, hereVersion: Recipe.toolVersion)
        guard !report.differences.isEmpty else {
            return ["  recorded and here: svdbatch \(Recipe.toolVersion), OpenBLAS \(here.blasVersion ?? "?") with \(here.blasCore) kernels, \(here.cpuVectorClass ?? "?") CPU ('\(here.cpu)'): nothing about the machine explains the difference"]
        }
        var lines = ["  recorded vs here:"] + report.differences.map { "    " + $0.line }
        if report.bitIdentityExpected {
            lines.append("  none of these differences should change a bit, so the machine does not explain the difference")
        }
        return lines
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}
