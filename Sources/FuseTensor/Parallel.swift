import Foundation

/// Splits work into a fixed number of contiguous chunks, one per core. Chunk boundaries
/// depend only on `n` and `threads`, so reductions over chunks are reproducible run to run.
public enum Parallel {
    nonisolated(unsafe) public static var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(chunk, range)` over `0..<n`. Work below `minPerChunk` items per chunk stays serial.
    public static func chunks(_ n: Int, minPerChunk: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        let count = chunkCount(n, minPerChunk: minPerChunk)
        if count <= 1 {
            if n > 0 { body(0, 0..<n) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: count) { c in
            body(c, (n * c / count)..<(n * (c + 1) / count))
        }
    }

    public static func chunkCount(_ n: Int, minPerChunk: Int = 1) -> Int {
        max(1, min(threads, n / max(1, minPerChunk)))
    }

    /// Runs `body(worker, item)` for every item in `0..<n`, handing the next item to whichever worker is free.
    /// For items of uneven cost (attention tiles: later query rows see more keys), listed costliest first so the
    /// last ones to start are the cheapest. Each item must write its own outputs: which worker runs it varies.
    public static func dynamic(_ n: Int, _ body: (Int, Int) -> Void) {
        let workers = min(threads, n)
        if workers <= 1 {
            for item in 0..<n { body(0, item) }
            return
        }
        let next = ItemCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            while let item = next.take(below: n) { body(worker, item) }
        }
    }
}

/// The shared "next item" of `Parallel.dynamic`. Items are coarse (a GEMM or more each), so a lock costs nothing.
private final class ItemCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()

    func take(below n: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < n else { return nil }
        value += 1
        return value - 1
    }
}
