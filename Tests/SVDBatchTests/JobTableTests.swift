import Foundation
import BatchTestSupport
import SVDBatch
import SVDCore
import SVDMedia
import XCTest

final class JobTableTests: XCTestCase {
    private func parse(_ text: String) throws -> JobTable { try JobTable.parse(Data(text.utf8), path: "jobs.csv") }

    func testQuotedFieldsWithCommasQuotesAndLineBreaksKeepLineNumbers() throws {
        let table = try parse([
            #"image,seed,name"#,
            #""a, b.png",1,"say ""hi""""#,
            #""multi"#,
            #"line.png",2,x"#,
            "",
            "c.png,3,",
            "",
        ].joined(separator: "\n"))
        XCTAssertEqual(table.columns, [.image, .seed, .name])
        XCTAssertEqual(table.rows.map(\.line), [2, 3, 6], "a record's line is where it starts; blank lines are skipped")
        XCTAssertEqual(table.rows[0][.image], "a, b.png")
        XCTAssertEqual(table.rows[0][.name], "say \"hi\"")
        XCTAssertEqual(table.rows[1][.image], "multi\nline.png")
        XCTAssertNil(table.rows[2][.name], "an empty cell means the default")
    }

    func testBOMAndCRLF() throws {
        var data = Data([0xEF, 0xBB, 0xBF])
        data.append(Data("image,seed\r\n\"x\r\ny.png\",1\r\nz.png,2\r\n".utf8))
        let table = try JobTable.parse(data, path: "jobs.csv")
        XCTAssertEqual(table.columns, [.image, .seed], "the BOM is not part of the first column name")
        XCTAssertEqual(table.rows.map(\.line), [2, 4])
        XCTAssertEqual(table.rows[0][.image], "x\r\ny.png")
        XCTAssertEqual(table.rows[1][.image], "z.png", "no stray CR at the end of a CRLF record")
        XCTAssertEqual(table.rows[1][.seed], "2")
    }

    func testHeaderIsCaseInsensitiveAndCellsAreTrimmed() throws {
        let table = try parse("Image, Seed ,NUM_FRAMES\n a.png , 7 ,\t3\n")
        XCTAssertEqual(table.columns, [.image, .seed, .numFrames])
        XCTAssertEqual(table.rows[0][.image], "a.png")
        XCTAssertEqual(table.rows[0][.seed], "7")
        XCTAssertEqual(table.rows[0][.numFrames], "3")
    }

    func testUnknownColumnNamesItAndTheKnownOnes() {
        XCTAssertThrowsError(try parse("image,seed,sead\n")) { error in
            XCTAssertEqual(error as? JobTableError, .unknownColumns(path: "jobs.csv", columns: ["sead"]))
            let text = "\(error)"
            XCTAssertTrue(text.contains("'sead'") && text.contains("motion_bucket_id") && text.contains("decode_chunk_size"), text)
        }
    }

    /// Spreadsheets in many locales save "CSV" with semicolons; tab-separated lists are common too.
    func testSemicolonAndTabSeparatedListsAreRead() throws {
        for separator in [";", "\t"] {
            let table = try parse(["image", "seed", "width"].joined(separator: separator) + "\n"
                                  + ["cat.png", "1", "64"].joined(separator: separator) + "\n"
                                  + ["\"a;b\tc.png\"", "2", ""].joined(separator: separator) + "\n")
            XCTAssertEqual(table.columns, [.image, .seed, .width], separator)
            XCTAssertEqual(table.rows.map { $0[.image] }, ["cat.png", "a;b\tc.png"], separator)
            XCTAssertEqual(table.rows.map { $0[.width] }, ["64", nil], separator)
        }
        // A comma in the header decides: semicolons in cells stay part of the value.
        XCTAssertEqual(try parse("image,seed\na;b.png,1\n").rows.first?[.image], "a;b.png")
    }

    /// Lines whose first cell starts with # are notes, before the header or between rows; line numbers still count them.
    func testCommentLinesAreSkipped() throws {
        let table = try parse("# nightly list\nimage,seed\ncat.png,1\n# cat.png,2 (off for now)\n  #,x\ncat.png,3\n")
        XCTAssertEqual(table.rows.map(\.line), [3, 6])
        XCTAssertEqual(table.rows.map { $0[.seed] }, ["1", "3"])
    }

    func testUnknownColumnsSuggestTheNearestName() {
        for (typed, meant) in [("num_frame", "num_frames"), ("Motion Bucket ID", "motion_bucket_id"), ("sed", "seed"),
                               ("num-inference-steps", "num_inference_steps"), ("motion", "motion_bucket_id")] {
            XCTAssertThrowsError(try parse("image,seed,\(typed)\ncat.png,1,2\n")) { error in
                XCTAssertTrue("\(error)".contains("'\(typed)' (did you mean '\(meant)'?)"), "\(error)")
            }
        }
        XCTAssertNil(JobColumn.nearest(to: "colour"))
    }

    func testHeaderProblems() {
        XCTAssertThrowsError(try parse("image,name\n")) { XCTAssertEqual($0 as? JobTableError, .missingColumns(path: "jobs.csv", columns: ["seed"])) }
        XCTAssertThrowsError(try parse("image,seed,seed\n")) { XCTAssertEqual($0 as? JobTableError, .duplicateColumn(path: "jobs.csv", column: "seed")) }
        XCTAssertThrowsError(try parse("image,seed,\n")) { XCTAssertEqual($0 as? JobTableError, .emptyColumnName(path: "jobs.csv", position: 3)) }
        XCTAssertThrowsError(try parse("\n\n")) { XCTAssertEqual($0 as? JobTableError, .noHeader(path: "jobs.csv")) }
        XCTAssertThrowsError(try JobTable.parse(Data([0x69, 0x6D, 0xFF, 0x0A]), path: "jobs.csv")) {
            guard case .notUTF8 = $0 as? JobTableError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try JobTable.load(path: "/nonexistent/jobs.csv")) {
            guard case .unreadable = $0 as? JobTableError else { return XCTFail("\($0)") }
        }
    }

    func testExtraFieldsAreCounted() throws {
        let table = try parse("image,seed\na.png,1,oops\n")
        XCTAssertEqual(table.rows[0].extraFields, 1)
    }

    func testShardMembershipFollowsTheSpec() throws {
        // SHA-256("cat-s42.mp4") read big-endian from its first 8 bytes, mod N.
        let name = "cat-s42.mp4"
        let hex = Digests.sha256Hex(Data(name.utf8))
        let value = UInt64(hex.prefix(16), radix: 16)!
        for n in 1...5 {
            let owners = try (0..<n).filter { try Shard(index: $0, count: n).contains(outputFileName: name) }
            XCTAssertEqual(owners, [Int(value % UInt64(n))])
        }
        XCTAssertEqual(try Shard(parsing: "1/2"), try Shard(index: 1, count: 2))
        for bad in ["2/2", "-1/2", "1", "a/b", "0/0", "1/2/3"] {
            XCTAssertThrowsError(try Shard(parsing: bad), bad)
        }
        XCTAssertEqual(Shard.lockFileName(nil), ".svdbatch.lock")
        XCTAssertEqual(Shard.lockFileName(try Shard(index: 1, count: 4)), ".svdbatch-shard-1-of-4.lock")
        XCTAssertEqual(Shard.manifestFileName(try Shard(index: 1, count: 4)), "manifest-shard-1-of-4.jsonl")
    }

    func testCheckpointFileRoundTripAndDamage() throws {
        let state = CheckpointFile(jobKey: "abc", totalSteps: 5,
                                   checkpoint: .init(stepsDone: 2, latents: [1.5, -0.0, .infinity, 3e-38]))
        let data = try state.encoded()
        let decoded = try CheckpointFile.decode(data, path: "s")
        XCTAssertEqual(decoded.jobKey, "abc")
        XCTAssertEqual(decoded.blasCore, state.blasCore)
        XCTAssertNil(decoded.mismatch(jobKey: "abc", totalSteps: 5))
        XCTAssertNotNil(decoded.mismatch(jobKey: "abd", totalSteps: 5))
        XCTAssertNotNil(decoded.mismatch(jobKey: "abc", totalSteps: 6))
        XCTAssertTrue(decoded.mismatch(jobKey: "abc", totalSteps: 5, blasCore: "Zen-\(state.blasCore)")?.contains("kernels") == true,
                      "a state computed with other BLAS kernels is not continued")
        XCTAssertEqual(decoded.checkpoint.latents.map(\.bitPattern), state.checkpoint.latents.map(\.bitPattern))
        var flipped = data
        flipped[flipped.count - 1] ^= 1
        XCTAssertThrowsError(try CheckpointFile.decode(flipped, path: "s"))
        XCTAssertThrowsError(try CheckpointFile.decode(data.prefix(data.count - 4), path: "s"))
        XCTAssertThrowsError(try CheckpointFile.decode(Data("junk".utf8), path: "s"))
    }
}
