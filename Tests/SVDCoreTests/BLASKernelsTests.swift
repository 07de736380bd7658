import XCTest
@testable import SVDCore

/// The test process computes with the kernels the command line computes with, whatever the machine.
final class BLASKernelsTests: XCTestCase {
    /// On every AVX2 + FMA machine the engine runs OpenBLAS's Haswell kernels, whatever OpenBLAS chose when it
    /// loaded and whatever OPENBLAS_CORETYPE the test runner inherited: bit-exact tests then assert what the
    /// command line computes.
    func testThisProcessRunsThePinnedKernels() throws {
        let cpu = CPUFeatures.current
        try XCTSkipUnless(cpu.hasAVX2AndFMA, "this CPU lacks AVX2 or FMA: OpenBLAS keeps its own choice")
        try XCTSkipIf(ProcessInfo.processInfo.environment[BLASKernels.optOutVariable] != nil,
                      "\(BLASKernels.optOutVariable) is set")
        XCTAssertEqual(BLAS.coreName, BLASKernels.pinnedCore)
        XCTAssertEqual(BLAS.kernels.choice, .pinned)
        // Pinning again finds them in place.
        XCTAssertEqual(BLASKernels.pin(environment: [:], cpu: cpu), BLAS.kernels)
    }

    func testOptOutAndCPUsWithoutAVX2KeepOpenBLASsChoice() {
        BLAS.ensureConfigured()
        let avx2 = CPUFeatures(flags: ["avx", "avx2", "fma"], modelName: "x")
        let native = BLASKernels.pin(environment: [BLASKernels.optOutVariable: "1"], cpu: avx2)
        XCTAssertEqual(native.choice, .native)
        XCTAssertEqual(native.coreName, BLAS.coreName)
        let old = BLASKernels.pin(environment: [:], cpu: CPUFeatures(flags: ["sse2", "avx"], modelName: "x"))
        XCTAssertEqual(old.choice, .cpuWithoutAVX2)
    }

    func testVersionAndCPUFacts() {
        XCTAssertEqual(BLASKernels.version(config: "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"), "0.3.21")
        XCTAssertEqual(BLASKernels.version(config: "something else"), "unknown")
        XCTAssertTrue(BLAS.configString.hasPrefix("OpenBLAS "), BLAS.configString)

        let zen1 = CPUFeatures.parse(cpuinfo: """
            processor\t: 0
            model name\t: AMD EPYC 7551 32-Core Processor
            flags\t\t: fpu sse2 avx fma avx2 f16c
            processor\t: 1
            model name\t: AMD EPYC 7551 32-Core Processor
            flags\t\t: fpu sse2 avx fma avx2 f16c
            """)
        XCTAssertEqual(zen1.modelName, "AMD EPYC 7551 32-Core Processor")
        XCTAssertEqual(zen1.vectorClass, "avx2+fma")
        XCTAssertEqual(CPUFeatures(flags: ["avx2", "fma", "avx512f"], modelName: "x").vectorClass, "avx512")
        XCTAssertEqual(CPUFeatures(flags: ["avx2"], modelName: "x").vectorClass, "baseline")
    }
}
