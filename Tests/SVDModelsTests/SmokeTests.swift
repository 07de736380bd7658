import XCTest
@testable import SVDModels
