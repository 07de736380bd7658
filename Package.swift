// swift-tools-version:6.0
import PackageDescription

// Engine code is always compiled with optimisation: tensor loops in debug Swift are far too slow,
// even for tests.
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "svdbatch",
    products: [
        .executable(name: "svdbatch", targets: ["svdbatch"]),
        // For Tests/Fuzz, a package of its own that builds these with libFuzzer.
        .library(name: "SVDBatchModules", targets: ["SVDCore", "SVDModels", "SVDPipeline", "SVDMedia", "SVDBatch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        // RFC 4180 reader over Unicode scalars (CRLF inside quotes stays intact); used by SVDBatch only.
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
    ],
    targets: [
        // System libraries (Debian packages named in `providers`).
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // libpng's full API needs setjmp, which Swift cannot call: this shim keeps it in C.
        .target(name: "CPNGShim", dependencies: ["CPNG"]),
        // float16 → float32 with F16C, chosen at run time, for weights kept compact.
        .target(name: "CHalf", cSettings: [.unsafeFlags(["-O3"])]),

        // Vectorised activations (AVX2 when present) with one bit-exact definition on every machine.
        .target(name: "CVectorMath", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),

        .target(name: "SVDCore", dependencies: ["COpenBLAS", "CVectorMath", "CHalf", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: optimised),
        .target(name: "SVDModels", dependencies: ["SVDCore", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: optimised),
        .target(name: "SVDPipeline", dependencies: ["SVDCore", "SVDModels"], swiftSettings: optimised),
        .target(name: "SVDMedia", dependencies: ["SVDCore", "CFFmpeg", "CPNGShim",
                                          .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: optimised),
        .target(name: "SVDBatch", dependencies: [
            "SVDCore", "SVDModels", "SVDPipeline", "SVDMedia",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CSV", package: "CSV.swift"),
        ]),
        .executableTarget(name: "svdbatch", dependencies: [
            "SVDBatch", "SVDPipeline", "SVDMedia", "SVDModels", "SVDCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .target(name: "TestSupport", dependencies: ["SVDCore"], path: "Tests/TestSupport", swiftSettings: optimised),
        .testTarget(name: "SVDCoreTests", dependencies: ["SVDCore", "CVectorMath", "TestSupport", .product(name: "Crypto", package: "swift-crypto")],
                    swiftSettings: optimised),
        .testTarget(name: "SVDModelsTests", dependencies: ["SVDModels", "TestSupport"], swiftSettings: optimised),
        .testTarget(name: "SVDPipelineTests", dependencies: ["SVDPipeline", "SVDModels", "SVDMedia", "TestSupport"],
                    swiftSettings: optimised),
        .testTarget(name: "SVDMediaTests", dependencies: ["SVDMedia", "TestSupport"], swiftSettings: optimised),
        .target(name: "BatchTestSupport", dependencies: ["SVDBatch", "SVDMedia", "TestSupport"], path: "Tests/BatchTestSupport"),
        .testTarget(name: "SVDBatchTests", dependencies: ["SVDBatch", "BatchTestSupport", "TestSupport"]),
        // The built `svdbatch` executable as a user runs it: processes, signals, exit statuses, the README's commands.
        .testTarget(name: "CLITests", dependencies: ["SVDBatch", "SVDMedia", "SVDCore", "BatchTestSupport", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
