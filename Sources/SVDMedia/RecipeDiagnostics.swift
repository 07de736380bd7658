import Foundation
import SVDCore

/// Facts about the machine and build that rendered a clip: never part of the job key, but what
/// `rerender --verify` compares to explain a reproduction that differs.
///
/// Old recipes lack the vector class, the OpenBLAS version and the svdbatch build's engine revision; recipes
/// before this field set recorded the thread count, which is no longer written so that clip bytes do not
/// depend on `--threads` (frames never did).
public struct RecipeDiagnostics: Codable, Hashable, Sendable {
    public var cpu: String
    public var cpuVectorClass: String?
    public var blasCore: String
    public var blasVersion: String?
    public var threads: Int?

    enum CodingKeys: String, CodingKey {
        case cpu, threads
        case cpuVectorClass = "cpu_vector_class"
        case blasCore = "blas_core"
        case blasVersion = "blas_version"
    }

    public init(cpu: String, cpuVectorClass: String? = nil, blasCore: String, blasVersion: String? = nil,
                threads: Int? = nil) {
        self.cpu = cpu
        self.cpuVectorClass = cpuVectorClass
        self.blasCore = blasCore
        self.blasVersion = blasVersion
        self.threads = threads
    }

    /// This machine: CPU model and vector class, and the OpenBLAS kernel family and release in use.
    public static var current: RecipeDiagnostics {
        let cpu = CPUFeatures.current
        return RecipeDiagnostics(cpu: cpu.modelName, cpuVectorClass: cpu.vectorClass, blasCore: BLAS.coreName,
                                 blasVersion: BLAS.version)
    }
}

/// Whether a recorded machine and this one should give the same bits, fact by fact.
///
/// The rules, as measured: the engine's own kernels (activations, Winograd transforms, narrow products, fp16
/// expansion) give the same bits with and without AVX2 and with or without AVX-512, because they never use
/// AVX-512 and their portable forms compute the same operations in the same order. OpenBLAS is the one part
/// whose bits depend on the machine: each kernel family rounds differently, and all AVX2 + FMA machines run
/// the Haswell family. The Haswell family gave the sample batch's exact frames in OpenBLAS 0.3.21, 0.3.23,
/// 0.3.27, 0.3.30 and 0.3.34 (`Tests/Conformance/openblas-versions.sh`).
public struct ReproducibilityReport: Sendable {
    public struct Difference: Sendable, Equatable {
        public let fact: String
        public let recorded: String
        public let here: String
        /// Whether bit-identical frames are still expected across this difference.
        public let bitIdentityExpected: Bool
        public let reason: String

        public var line: String {
            "\(fact): recorded \(recorded), here \(here): "
                + (bitIdentityExpected ? "bit-identity still expected (\(reason))" : "explains a difference (\(reason))")
        }
    }

    /// OpenBLAS releases whose Haswell kernels were shown to give identical frames.
    public static let testedBLASVersions = ["0.3.21", "0.3.23", "0.3.27", "0.3.30", "0.3.34"]

    public let differences: [Difference]

    public init(recorded: RecipeDiagnostics, recordedVersion: String, here: RecipeDiagnostics, hereVersion: String) {
        var out: [Difference] = []
        if recorded.blasCore != here.blasCore {
            out.append(Difference(
                fact: "OpenBLAS kernels", recorded: recorded.blasCore, here: here.blasCore, bitIdentityExpected: false,
                reason: "kernel families round differently; svdbatch runs Haswell kernels on every AVX2 + FMA machine unless \(BLASKernels.optOutVariable) is set"))
        }
        if let a = recorded.blasVersion, let b = here.blasVersion, a != b {
            let tested = Self.testedBLASVersions
            let bothTested = tested.contains(a) && tested.contains(b)
            let sameCore = recorded.blasCore == here.blasCore && here.blasCore == BLASKernels.pinnedCore
            out.append(Difference(
                fact: "OpenBLAS release", recorded: a, here: b, bitIdentityExpected: bothTested && sameCore,
                reason: bothTested && sameCore
                    ? "Haswell kernels give the same frames in OpenBLAS \(tested.joined(separator: ", "))"
                    : "only OpenBLAS \(tested.joined(separator: ", ")) with Haswell kernels are known to agree"))
        }
        if let a = recorded.cpuVectorClass, let b = here.cpuVectorClass, a != b {
            out.append(Difference(
                fact: "CPU vector class", recorded: a, here: b, bitIdentityExpected: recorded.blasCore == here.blasCore,
                reason: recorded.blasCore == here.blasCore
                    ? "the engine's kernels never use AVX-512 and give the same bits without AVX2, and OpenBLAS runs the same kernels on both"
                    : "it changed OpenBLAS's kernel family"))
        }
        if recorded.cpu != here.cpu {
            out.append(Difference(fact: "CPU model", recorded: "'\(recorded.cpu)'", here: "'\(here.cpu)'",
                                  bitIdentityExpected: recorded.blasCore == here.blasCore,
                                  reason: recorded.blasCore == here.blasCore
                                    ? "the CPU model matters only through OpenBLAS's kernel family, which is the same"
                                    : "it changed OpenBLAS's kernel family"))
        }
        if recordedVersion != hereVersion {
            out.append(Difference(fact: "svdbatch version", recorded: recordedVersion, here: hereVersion,
                                  bitIdentityExpected: false,
                                  reason: "a release may change the engine's arithmetic; the release that made the clip reproduces it"))
        }
        differences = out
    }

    /// Whether the recorded and the present machine should give the same frames.
    public var bitIdentityExpected: Bool { differences.allSatisfy(\.bitIdentityExpected) }
}
