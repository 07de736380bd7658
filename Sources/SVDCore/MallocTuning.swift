/// Process-wide glibc malloc settings the engine relies on.
public enum MallocTuning {
    private static let mmapThreshold: Void = {
        // A fixed mmap threshold: glibc otherwise raises it after large frees, and freed activations then stay in
        // malloc's arenas, inflating the resident size far beyond the live tensors.
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 20)
    }()

    private static let perturb: Void = {
        // libx264 reads some of its buffers before writing them; with whatever an earlier allocation left there
        // the H.264 bytes changed from run to run. Filling every new allocation with a fixed byte makes them
        // reproducible whatever the process did before.
        _ = glibcMallopt(-6 /* M_PERTURB */, 0xA5)
    }()

    public static func fixMmapThreshold() { _ = mmapThreshold }
    public static func fillNewAllocations() { _ = perturb }
}

/// glibc's `mallopt` (declared in <malloc.h>, which Swift's Glibc module does not import).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
