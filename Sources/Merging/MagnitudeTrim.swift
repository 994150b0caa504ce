/// TIES's trim step: keep the k entries of largest magnitude, zero the rest. Ties at the threshold are
/// kept in index order, as a stable descending sort would (mergekit uses torch.argsort; with real-valued
/// weights ties are rare and only decide which of equal values survive).
public enum MagnitudeTrim {
    /// mergekit's count: int(density · n), at least one.
    public static func keptCount(density: Double, count: Int) -> Int {
        max(1, Int((density * Double(count)).rounded(.down)))
    }

    public static func apply(_ values: UnsafeMutablePointer<Float>, count: Int, keep k: Int) {
        guard k < count else { return }
        var magnitudes = [Float](unsafeUninitializedCapacity: count) { buffer, n in
            for i in 0..<count { buffer[i] = abs(values[i]) }
            n = count
        }
        let threshold = magnitudes.withUnsafeMutableBufferPointer { kthLargest($0, k) }
        var above = 0
        for i in 0..<count where abs(values[i]) > threshold { above += 1 }
        var atThreshold = k - above
        for i in 0..<count {
            let m = abs(values[i])
            if m > threshold { continue }
            if m == threshold && atThreshold > 0 { atThreshold -= 1; continue }
            values[i] = 0
        }
    }

    /// The k-th largest value (1-based) by quickselect; reorders `a`. Expected O(n).
    static func kthLargest(_ a: UnsafeMutableBufferPointer<Float>, _ k: Int) -> Float {
        precondition(k >= 1 && k <= a.count)
        let target = k - 1  // index in descending order
        var lo = 0, hi = a.count - 1
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        while lo < hi {
            // Pseudo-random pivot: sorted or constant inputs stay O(n).
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let pivot = a[lo + Int(state % UInt64(hi - lo + 1))]
            // Three-way partition (descending): [lo, lt) > pivot, [lt, gt] == pivot, (gt, hi] < pivot.
            var lt = lo, i = lo, gt = hi
            while i <= gt {
                if a[i] > pivot { a.swapAt(lt, i); lt += 1; i += 1 } else if a[i] < pivot { a.swapAt(i, gt); gt -= 1 } else { i += 1 }
            }
            if target < lt { hi = lt - 1 } else if target > gt { lo = gt + 1 } else { return pivot }
        }
        return a[lo]
    }
}
