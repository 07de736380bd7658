import Foundation
import SVDMedia
import SVDPipeline
@testable import SVDBatch

#if FUZZING
/// The target this fuzzer process runs, from `SVDBATCH_FUZZ_TARGET`.
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["SVDBATCH_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("set SVDBATCH_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    selectedTarget.run(bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<CInt>,
               _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
               _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM gives an executable its own entry point, so libFuzzer's `main` is not linked in; its driver is
/// called from here instead.
@main
struct Fuzzer {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runDriver(&argc, &argv, fuzzOneInput))
    }
}
#else
/// Without libFuzzer: `svdbatch-fuzz TARGET FILE|DIR…` runs files through a target (a crash reproduces
/// outside the fuzzer), and `svdbatch-fuzz --seeds DIR` writes the seeds only svdbatch itself can make.
@main
struct Replay {
    static func main() throws {
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--seeds", args.count == 2 { return try writeSeeds(into: URL(fileURLWithPath: args[1])) }
        guard let name = args.first, let target = FuzzTarget(rawValue: name), args.count > 1 else {
            print("usage: svdbatch-fuzz TARGET FILE|DIR… | --seeds DIR   (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
            exit(2)
        }
        var count = 0
        for path in args.dropFirst() {
            let url = URL(fileURLWithPath: path)
            let files = (try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)) ?? [url]
            for file in files.sorted(by: { $0.path < $1.path }) {
                target.run(try Data(contentsOf: file))
                count += 1
            }
        }
        print("\(target.rawValue): \(count) inputs ran without a crash")
    }

    /// A resume checkpoint (seed for `checkpoint`), written by the same code a run uses.
    static func writeSeeds(into folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let latents = (0..<64).map { Float($0) / 8 - 4 }
        let file = CheckpointFile(jobKey: String(repeating: "ab", count: 32), totalSteps: 4,
                                  checkpoint: DenoisingCheckpoint(stepsDone: 2, latents: latents))
        try file.encoded().write(to: folder.appendingPathComponent("checkpoint-2-of-4"))
    }
}
#endif
