import Foundation

/// OpenBLAS picks its kernels per CPU when the library loads, and different kernels give different result
/// bits. To make a clip made on one AVX2 machine verify bit-exactly on another, svdbatch runs OpenBLAS's
/// Haswell (AVX2 + FMA) kernels on every machine that has AVX2 and FMA. The core type is read from the
/// environment before `main` runs, so the process re-executes itself once with it set.
enum BLASCorePinning {
    static let variable = "OPENBLAS_CORETYPE"
    static let pinnedCore = "Haswell"
    /// Set (to any value) to keep OpenBLAS's own choice (not reproducible on other kinds of CPU).
    static let optOut = "SVDBATCH_NATIVE_BLAS"

    static func pinBeforeBLASLoads() {
        let env = ProcessInfo.processInfo.environment
        // An explicit choice (the user's, or a platform workaround) is respected and recorded in recipes.
        guard env[variable] == nil, env[optOut] == nil, cpuHasAVX2AndFMA() else { return }
        setenv(variable, pinnedCore, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Reaching here means exec failed: carry on with OpenBLAS's own choice.
        unsetenv(variable)
    }

    static func cpuHasAVX2AndFMA() -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " "))
        return set.contains("avx2") && set.contains("fma")
    }
}
