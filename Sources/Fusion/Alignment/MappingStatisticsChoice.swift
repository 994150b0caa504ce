import Foundation

/// The `ms` map's choice for a source token without an exact match, as FuseChat-2's `token_align_mapping` makes it:
/// among the target tokens DTW paired it with over the corpus (regular and byte tokens only), the one with the
/// smallest
///
///     cost = ED(a, b) · w · sigmoid(count),   w = 0.1 when one of a, b contains the other, else 1
///
/// where a, b are the two tokens' normalised units without spaces (both with spaces when either would be empty) and
/// count is how often the pair was co-aligned; ties go to the lowest target id (`np.argmin` over ascending ids).
/// sigmoid grows with the count, so among equally distant candidates the rarer pairing wins, as in the reference
/// (docs/alignment.md). Source tokens never co-aligned stay unmapped.
struct MappingStatisticsChoice {
    private let sourceStripped: CodedVocabulary
    private let targetStripped: CodedVocabulary
    private let sourceFull: CodedVocabulary
    private let targetFull: CodedVocabulary
    private let alphabetSize: Int
    private let target: NormalizedVocabulary

    init(source: NormalizedVocabulary, target: NormalizedVocabulary) {
        var alphabet = UnitAlphabet()
        sourceStripped = CodedVocabulary(source, alphabet: &alphabet, dropSpaces: true)
        targetStripped = CodedVocabulary(target, alphabet: &alphabet, dropSpaces: true)
        sourceFull = CodedVocabulary(source, alphabet: &alphabet, dropSpaces: false)
        targetFull = CodedVocabulary(target, alphabet: &alphabet, dropSpaces: false)
        alphabetSize = alphabet.size
        self.target = target
    }

    /// Fills ids/distances of the `pending` source ids that have co-aligned candidates; the distance recorded is the
    /// edit distance of the full units (≥ 1: exact matches never get here), as MinED records it.
    func run(_ pending: [Int32], statistics: MappingStatistics, ids: inout [Int32], distances: inout [Int32]) {
        let candidates = statistics.candidatesBySource()
        let matcher = EditDistanceMatcher(alphabetSize: alphabetSize)
        for s in pending {
            guard let list = candidates[s] else { continue }
            var best: (cost: Double, id: Int32)?
            for (t, count) in list where target.kind(of: t) == .regular || target.kind(of: t) == .byte {
                let cost = Self.cost(editDistance: weightedPair(source: Int(s), target: Int(t), matcher: matcher),
                                     count: count)
                if best == nil || cost < best!.cost { best = (cost, t) }
            }
            guard let best else { continue }
            ids[Int(s)] = best.id
            distances[Int(s)] = Int32(max(1, fullDistance(source: Int(s), target: Int(best.id), matcher: matcher)))
        }
    }

    /// The reference's `dist * sigmoid(count)` with `dist = editdistance · w`, in the same order of operations.
    static func cost(editDistance: (distance: Int, contained: Bool), count: Int) -> Double {
        let dist = Double(editDistance.distance) * (editDistance.contained ? 0.1 : 1)
        return dist * (1 / (1 + exp(-Double(count))))
    }

    /// The edit distance the cost uses, and whether one side contains the other.
    private func weightedPair(source s: Int, target t: Int, matcher: EditDistanceMatcher) -> (distance: Int, contained: Bool) {
        let useFull = sourceStripped.length(s) == 0 || targetStripped.length(t) == 0
        let a = useFull ? sourceFull : sourceStripped, b = useFull ? targetFull : targetStripped
        return a.withCodes(s) { x in
            b.withCodes(t) { y in
                matcher.setPattern(x)
                return (matcher.distance(y), Self.contains(x, y) || Self.contains(y, x))
            }
        }
    }

    private func fullDistance(source s: Int, target t: Int, matcher: EditDistanceMatcher) -> Int {
        sourceFull.withCodes(s) { x in targetFull.withCodes(t) { y in matcher.setPattern(x); return matcher.distance(y) } }
    }

    /// Whether `needle` occurs as a contiguous run in `haystack` (Python's `in` on strings; the empty run always does).
    static func contains(_ haystack: UnsafeBufferPointer<UInt32>, _ needle: UnsafeBufferPointer<UInt32>) -> Bool {
        let n = haystack.count, m = needle.count
        guard m <= n else { return false }
        if m == 0 { return true }
        outer: for start in 0...(n - m) {
            for i in 0..<m where haystack[start + i] != needle[i] { continue outer }
            return true
        }
        return false
    }
}
