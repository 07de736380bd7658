import XCTest
@testable import SVDBatch
