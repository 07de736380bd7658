import XCTest
@testable import SVDPipeline
