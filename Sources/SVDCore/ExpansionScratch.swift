import Foundation

/// Reusable float32 blocks for expanding compact weights. A fresh buffer per call costs page faults and zeroing
/// (about 1 GB/s here, against 7–8 GB/s for the conversion itself), so the few largest blocks are kept.
public final class ExpansionScratch: @unchecked Sendable {
    public static let shared = ExpansionScratch(keep: 2)

    /// Free blocks kept: a feed-forward holds two expansions at once.
    private let keep: Int
    private let lock = NSLock()
    private var free: [Block] = []

    public init(keep: Int) { self.keep = keep }

    /// Runs `body` with a tensor of `shape` whose contents are undefined, on a pooled block. If `body` keeps the
    /// tensor, its block is left to it rather than reused.
    public func withTensor<R>(_ shape: [Int], _ body: (Tensor) throws -> R) rethrows -> R {
        let count = Tensor.elementCount(shape)
        let block = take(count)
        var view = TensorBuffer(viewing: block.pointer, count: count, owner: block)
        defer { if isKnownUniquelyReferenced(&view) { give(block) } }
        return try body(Tensor(shape: shape, buffer: view))
    }

    /// Bytes held by free blocks.
    public var keptBytes: Int { lock.lock(); defer { lock.unlock() }; return free.reduce(0) { $0 + $1.capacity * 4 } }

    /// The smallest free block that fits, or a new one.
    private func take(_ count: Int) -> Block {
        lock.lock()
        defer { lock.unlock() }
        let fitting = free.indices.filter { free[$0].capacity >= count }
        guard let best = fitting.min(by: { free[$0].capacity < free[$1].capacity }) else { return Block(capacity: count) }
        return free.remove(at: best)
    }

    /// Keeps the block unless `keep` larger ones are already free.
    private func give(_ block: Block) {
        lock.lock()
        defer { lock.unlock() }
        free.append(block)
        free.sort { $0.capacity > $1.capacity }
        if free.count > keep { free.removeLast(free.count - keep) }
    }

    /// Owned float32 memory, accounted for in `TensorMemory`.
    private final class Block {
        let pointer: UnsafeMutablePointer<Float>
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
            pointer = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1) * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: max(capacity, 1))
            TensorMemory.allocated(capacity * 4)
        }

        deinit {
            UnsafeMutableRawPointer(pointer).deallocate()
            TensorMemory.released(capacity * 4)
        }
    }
}
