// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for every parser of outside data. Built by Tests/Fuzz/run.sh with
// `-sanitize=fuzzer,address -DFUZZING -enable-testing`; a plain `swift build` here makes a replay tool that runs
// files through the same targets (and writes the seed corpora).
let package = Package(
    name: "svdbatch-fuzz",
    dependencies: [.package(name: "svdbatch", path: "../..")],
    targets: [
        .executableTarget(name: "svdbatch-fuzz", dependencies: [.product(name: "SVDBatchModules", package: "svdbatch")]),
    ]
)
