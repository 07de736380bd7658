import Foundation
import BatchTestSupport
import XCTest

/// Reruns must give byte-identical files in every format, also across processes whose earlier work left
/// different memory behind (libx264 reads buffers before writing them).
final class ClipBytesTests: XCTestCase {
    func testSeparateProcessesWriteByteIdenticalClips() throws {
        let w = try Workspace()
        let rows = ["mp4", "webm", "mkv"].map { "cat.png,1,same-\($0),64,64,8,1,\($0)" }
        try w.csv("target.csv", "image,seed,name,width,height,num_frames,num_inference_steps,format\n" + rows.joined(separator: "\n") + "\n")
        // The second process first renders other jobs, so its heap differs when the encoders start.
        try w.csv("warmup.csv", Tiny.csv([Tiny.row("coffee.png", seed: "9", name: "warm", frames: 6)]))
        let log = w.url("log.txt")
        XCTAssertEqual(try SVDBatchBinary.run(["target.csv", "--out", "a", "--quiet"], in: w.root, log: log), 0)
        XCTAssertEqual(try SVDBatchBinary.run(["warmup.csv", "--out", "b", "--quiet"], in: w.root, log: log), 0)
        XCTAssertEqual(try SVDBatchBinary.run(["target.csv", "--out", "b", "--quiet"], in: w.root, log: log), 0)
        for format in ["mp4", "webm", "mkv"] {
            let a = try Data(contentsOf: w.url("a/same-\(format).\(format)"))
            let b = try Data(contentsOf: w.url("b/same-\(format).\(format)"))
            XCTAssertTrue(a == b, "\(format) files differ between processes")
        }
    }
}
