import FuseTensor

/// The order in which training visits blocks: a seeded shuffle per epoch, derived only from
/// (seed, position), so a resumed run sees exactly the blocks an uninterrupted one would.
public struct BlockOrder: Sendable {
    public let blockCount: Int
    public let seed: UInt64
    private var cachedEpoch = -1
    private var permutation: [Int] = []

    public init(blockCount: Int, seed: UInt64) {
        precondition(blockCount > 0)
        self.blockCount = blockCount
        self.seed = seed
    }

    /// Block index at global position `position` (0, 1, 2, … across epochs).
    public mutating func block(at position: Int) -> Int {
        let epoch = position / blockCount
        if epoch != cachedEpoch {
            var rng = SeededRandom(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
            permutation = Array(0..<blockCount)
            // Fisher–Yates with our own generator: Swift's shuffle algorithm is not guaranteed stable across versions.
            for i in stride(from: blockCount - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                permutation.swapAt(i, j)
            }
            cachedEpoch = epoch
        }
        return permutation[position % blockCount]
    }
}
