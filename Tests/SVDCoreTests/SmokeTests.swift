import XCTest
@testable import SVDCore
