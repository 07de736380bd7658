import XCTest
@testable import SVDMedia
