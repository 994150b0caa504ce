/// DELLA's MAGPRUNE (Deep et al. 2024, mergekit's `della_magprune`): within each row of a task vector the entries are
/// ranked by magnitude, ascending (equal magnitudes in index order, as a stable sort), rank r of n scaled to
/// (r − 1)/(n − 1) (0 in a row of one), and each entry is kept with probability
///
///     p = (density − ε) + scaled · 2ε
///
/// so the largest entries are the likeliest to survive. The draw is DARE's (`DropStream`: one u ∈ (0, 1] per entry
/// in row-major order from the (model, tensor) stream, kept when u ≤ p), so masks are reproducible anywhere;
/// mergekit draws with torch.bernoulli instead. Rescaling is the caller's (L1 by default).
public enum MagnitudePrune {
    /// Zeroes the dropped entries of `values` (rows of `rowLength`); returns how many were kept.
    @discardableResult
    public static func apply(_ values: UnsafeMutablePointer<Float>, count: Int, rowLength: Int, density: Double, epsilon: Double,
                             seed: UInt64, modelIndex: Int, tensor: String) -> Int {
        precondition(rowLength > 0 && count % rowLength == 0, "rows of \(rowLength) do not tile \(count) entries")
        var rng = DropStream.generator(seed: seed, modelIndex: modelIndex, tensor: tensor)
        var order = [Int](repeating: 0, count: rowLength)
        var probability = [Double](repeating: 0, count: rowLength)
        var kept = 0
        for start in stride(from: 0, to: count, by: rowLength) {
            let row = values + start
            for i in 0..<rowLength { order[i] = i }
            order.sort { a, b in
                let x = abs(row[a]), y = abs(row[b])
                return x < y || (x == y && a < b)
            }
            for (rank, i) in order.enumerated() {
                let scaled = rowLength > 1 ? Double(rank) / Double(rowLength - 1) : 0
                probability[i] = (density - epsilon) + scaled * 2 * epsilon
            }
            for i in 0..<rowLength {
                if rng.nextUnitInterval() <= probability[i] { kept += 1 } else { row[i] = 0 }
            }
        }
        return kept
    }
}
