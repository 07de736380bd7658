import COpenBLAS
import Foundation

/// The only door to matrix products. OpenBLAS runs single-threaded (its own threading changes result
/// bits with the thread count); the engine parallelises around it over fixed partitions.
public enum BLAS {
    private static let configured: BLASKernels = {
        let kernels = BLASKernels.pin(environment: ProcessInfo.processInfo.environment,
                                      cpu: CPUFeatures.current)
        openblas_set_num_threads(1)
        MallocTuning.fixMmapThreshold()
        return kernels
    }()

    /// Pins the kernels (first call only) and sets OpenBLAS single-threaded. Every product and every recipe
    /// goes through here first, so a process never computes with kernels other than those it records.
    public static func ensureConfigured() { _ = configured }

    /// OpenBLAS's kernel family in use (recorded in recipes and checkpoints).
    public static var coreName: String { configured.coreName }

    /// How the kernel family was chosen, for `bench` and `rerender --verify`.
    public static var kernels: BLASKernels { configured }

    /// OpenBLAS's release, e.g. "0.3.21" (recorded in recipes), or "unknown".
    public static var version: String { BLASKernels.version(config: configString) }

    /// OpenBLAS's build description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
    public static var configString: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text)
    }

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major.
    @inline(__always)
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        ensureConfigured()
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// Which OpenBLAS kernel family the process computes with, and why.
///
/// OpenBLAS picks its kernels per CPU when the library loads, and kernel families round differently; even the
/// unrecognised CPUs of an older OpenBLAS get a different family (0.3.21 runs Prescott's SSE3 kernels on an
/// Emerald Rapids Xeon). So on every CPU with AVX2 and FMA the engine switches OpenBLAS to its Haswell
/// (AVX2 + FMA) kernels before the first product, whatever `OPENBLAS_CORETYPE` the process inherited: clips then
/// reproduce bit for bit across such machines, Intel or AMD, with or without AVX-512, and the test suite
/// computes exactly as the command line does. The switch uses the two entry points of OpenBLAS's DYNAMIC_ARCH
/// builds (Debian's among them) that re-run its core selection with `OPENBLAS_CORETYPE` set.
public struct BLASKernels: Sendable, Equatable {
    /// The family every AVX2 + FMA machine computes with.
    public static let pinnedCore = "Haswell"
    /// Set (to any value) to keep OpenBLAS's own choice, `OPENBLAS_CORETYPE` included (clips then reproduce only
    /// on machines that make the same choice).
    public static let optOutVariable = "SVDBATCH_NATIVE_BLAS"
    static let coreTypeVariable = "OPENBLAS_CORETYPE"

    public enum Choice: Sendable, Equatable {
        /// Haswell kernels, switched to by the engine.
        case pinned
        /// OpenBLAS's own choice, kept because `SVDBATCH_NATIVE_BLAS` is set.
        case native
        /// OpenBLAS's own choice, kept because this CPU lacks AVX2 or FMA.
        case cpuWithoutAVX2
        /// OpenBLAS's own choice, kept because this OpenBLAS cannot switch (not a DYNAMIC_ARCH build).
        case notSwitchable
    }

    public let coreName: String
    public let choice: Choice

    /// One line for `bench` and diagnostics.
    public var summary: String {
        switch choice {
        case .pinned: return "\(coreName) kernels (pinned, the same on every AVX2 + FMA machine)"
        case .native: return "\(coreName) kernels (OpenBLAS's own choice: \(Self.optOutVariable) is set)"
        case .cpuWithoutAVX2: return "\(coreName) kernels (OpenBLAS's own choice: this CPU lacks AVX2 or FMA)"
        case .notSwitchable: return "\(coreName) kernels (this OpenBLAS cannot switch kernel families)"
        }
    }

    static func pin(environment: [String: String], cpu: CPUFeatures) -> BLASKernels {
        if environment[optOutVariable] != nil { return BLASKernels(coreName: currentCoreName(), choice: .native) }
        guard cpu.hasAVX2AndFMA else { return BLASKernels(coreName: currentCoreName(), choice: .cpuWithoutAVX2) }
        if currentCoreName() == pinnedCore { return BLASKernels(coreName: pinnedCore, choice: .pinned) }
        // Before the first product no OpenBLAS buffer exists yet, so swapping its kernel table is all it takes.
        let inherited = environment[coreTypeVariable]
        setenv(coreTypeVariable, pinnedCore, 1)
        guard svd_openblas_reselect_core() != 0 else {
            if let inherited { setenv(coreTypeVariable, inherited, 1) } else { unsetenv(coreTypeVariable) }
            return BLASKernels(coreName: currentCoreName(), choice: .notSwitchable)
        }
        let name = currentCoreName()
        return BLASKernels(coreName: name, choice: name == pinnedCore ? .pinned : .notSwitchable)
    }

    private static func currentCoreName() -> String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// "0.3.21" from "OpenBLAS 0.3.21 DYNAMIC_ARCH …", or "unknown".
    static func version(config: String) -> String {
        let words = config.split(separator: " ")
        guard words.count >= 2, words[0] == "OpenBLAS" else { return "unknown" }
        return String(words[1])
    }
}

/// The CPU's vector instruction sets, from /proc/cpuinfo.
public struct CPUFeatures: Sendable, Equatable {
    public let flags: Set<String>
    public let modelName: String

    public init(flags: Set<String>, modelName: String) {
        self.flags = flags
        self.modelName = modelName
    }

    public static let current: CPUFeatures = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return CPUFeatures(flags: [], modelName: "unknown")
        }
        return parse(cpuinfo: text)
    }()

    static func parse(cpuinfo text: String) -> CPUFeatures {
        var flags: Set<String> = []
        var model = "unknown"
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if key == "flags", flags.isEmpty { flags = Set(value.split(separator: " ").map(String.init)) }
            if key == "model name", model == "unknown" { model = value }
        }
        return CPUFeatures(flags: flags, modelName: model)
    }

    public var hasAVX2AndFMA: Bool { flags.contains("avx2") && flags.contains("fma") }

    /// "avx512", "avx2+fma" or "baseline": what decides OpenBLAS's native choice (the engine's own kernels
    /// give the same bits on all three).
    public var vectorClass: String {
        if hasAVX2AndFMA && flags.contains("avx512f") { return "avx512" }
        return hasAVX2AndFMA ? "avx2+fma" : "baseline"
    }
}
