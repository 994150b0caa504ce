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
}
