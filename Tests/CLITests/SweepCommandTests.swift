import Foundation
import BatchTestSupport
import XCTest

/// `svdbatch sweep` as the built executable: its help and its usage errors.
final class SweepCommandTests: XCTestCase {
    func testCommandLineHelpAndUsageErrors() throws {
        let ws = try Workspace()
        XCTAssertEqual(try SVDBatchBinary.run(["sweep", "--help"], in: ws.root, log: ws.url("help.log")), 0)
        let help = try String(contentsOf: ws.url("help.log"), encoding: .utf8)
        for option in ["--out", "--seeds", "--vary", "--set", "--model", "--format", "--threads", "--force", "--dry-run", "--quiet", "Example"] {
            XCTAssertTrue(help.contains(option), option)
        }
        XCTAssertEqual(try SVDBatchBinary.run(["sweep", "cat.png", "--seeds", "1", "--vary", "nope=1"], in: ws.root, log: ws.url("bad.log")), 2)
        XCTAssertTrue(try String(contentsOf: ws.url("bad.log"), encoding: .utf8).contains("--vary nope=1: unknown key 'nope'"))
        XCTAssertEqual(try SVDBatchBinary.run(["sweep", "cat.png"], in: ws.root, log: ws.url("noseeds.log")), 2)
    }
}
