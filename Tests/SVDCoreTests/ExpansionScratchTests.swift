import XCTest
@testable import SVDCore

final class ExpansionScratchTests: XCTestCase {
    /// Blocks are reused, best fit first, and at most `keep` stay free.
    func testReusesKeptBlocks() {
        let scratch = ExpansionScratch(keep: 1)
        let first = scratch.withTensor([4, 4]) { $0.data }
        XCTAssertEqual(scratch.withTensor([3, 5]) { $0.data }, first, "a smaller request reuses the free block")
        XCTAssertEqual(scratch.keptBytes, 64)
        scratch.withTensor([8]) { _ in scratch.withTensor([2]) { _ in } }
        XCTAssertEqual(scratch.keptBytes, 64, "only the largest free block is kept")
    }

    /// A tensor kept beyond the call keeps its block: the next call gets other memory.
    func testEscapedTensorIsNotReused() {
        let scratch = ExpansionScratch(keep: 2)
        let kept = scratch.withTensor([16]) { t in
            for i in 0..<16 { t.data[i] = Float(i) }
            return t
        }
        scratch.withTensor([16]) { t in
            XCTAssertNotEqual(t.data, kept.data)
            t.data.update(repeating: -1, count: 16)
        }
        XCTAssertEqual(kept.array, (0..<16).map(Float.init))
    }
}
