import Foundation

/// The DTW cost between tokens of two vocabularies: the edit distance of their normalised units with every space
/// removed (the reference removes the '▁' / 'Ġ' markers before `editdistance.eval`). Built once per tokenizer pair.
public final class TokenDistance: @unchecked Sendable {
    let alphabetSize: Int
    let source: CodedVocabulary
    let target: CodedVocabulary

    public init(source: NormalizedVocabulary, target: NormalizedVocabulary) {
        var alphabet = UnitAlphabet()
        self.target = CodedVocabulary(target, alphabet: &alphabet, dropSpaces: true)
        self.source = CodedVocabulary(source, alphabet: &alphabet, dropSpaces: true)
        alphabetSize = alphabet.size
    }

    /// The cost of pairing source id `s` with target id `t` (for tests and reports; DTW batches its calls).
    public func cost(source s: Int32, target t: Int32) -> Int {
        let matcher = EditDistanceMatcher(alphabetSize: alphabetSize)
        source.withCodes(Int(s)) { matcher.setPattern($0) }
        return target.withCodes(Int(t)) { matcher.distance($0) }
    }
}

/// Dynamic time warping between a source's and the target's tokenizations of the same text, as the reference's
/// `dtw` (simpledtw) computes it with `transform_step_logits`'s cost:
///
///     D[i][j] = cost(source i, target j) + min(D[i−1][j], D[i][j−1], D[i−1][j−1]),  D[−1][−1] = 0, other borders ∞
///
/// The path is traced back from the last pair of tokens to the first; at each step it moves to the smallest of the
/// diagonal, source-only (up) and target-only (left) predecessors, the earlier one of these three on a tie
/// (`np.argmin`). Every target position ends up paired with a contiguous run of source positions.
public struct SequenceAlignment: Equatable, Sendable {
    /// For each target position, the source positions the path pairs it with (in order).
    public let sources: [Range<Int>]
    /// D at the last pair: the path's total cost.
    public let cost: Int

    public init(sources: [Range<Int>], cost: Int) {
        self.sources = sources
        self.cost = cost
    }

    /// `sourceTokens` and `targetTokens` must be ids inside the vocabularies `distance` was built from.
    public static func compute(sourceTokens: [Int32], targetTokens: [Int32], distance: TokenDistance) -> SequenceAlignment {
        let n = sourceTokens.count, m = targetTokens.count
        guard n > 0, m > 0 else { return SequenceAlignment(sources: Array(repeating: 0..<0, count: m), cost: 0) }
        let infinity = Int32.max
        // Texts repeat their tokens (Zipf), so the costs of the distinct (source, target) token pairs are computed
        // once into a small table and the n·m cells only look them up.
        let (sourceLocal, sourceDistinct) = localIndex(sourceTokens)
        let (targetLocal, targetDistinct) = localIndex(targetTokens)
        let width = targetDistinct.count
        var pairCost = [Int32](repeating: 0, count: sourceDistinct.count * width)
        let matcher = EditDistanceMatcher(alphabetSize: distance.alphabetSize)
        distance.target.codes.withUnsafeBufferPointer { codes in
            distance.target.offsets.withUnsafeBufferPointer { offsets in
                for (a, s) in sourceDistinct.enumerated() {
                    distance.source.withCodes(Int(s)) { matcher.setPattern($0) }
                    for (b, t) in targetDistinct.enumerated() {
                        let text = UnsafeBufferPointer(rebasing: codes[Int(offsets[Int(t)])..<Int(offsets[Int(t) + 1])])
                        pairCost[a * width + b] = Int32(matcher.distance(text))
                    }
                }
            }
        }
        // Accumulated costs, row i = source token i. n·m Int32: 16 MB for two 2000-token sequences.
        var acc = [Int32](repeating: 0, count: n * m)
        acc.withUnsafeMutableBufferPointer { d in
            pairCost.withUnsafeBufferPointer { costs in
                targetLocal.withUnsafeBufferPointer { tl in
                    for i in 0..<n {
                        let row = i * m, above = row - m
                        let costRow = Int(sourceLocal[i]) * width
                        for j in 0..<m {
                            let c = costs[costRow + Int(tl[j])]
                            let best: Int32
                            if i == 0 {
                                best = j == 0 ? 0 : d[row + j - 1]
                            } else if j == 0 {
                                best = d[above]
                            } else {
                                best = min(d[above + j], d[row + j - 1], d[above + j - 1])
                            }
                            d[row + j] = c + best
                        }
                    }
                }
            }
        }
        var lower = [Int](repeating: Int.max, count: m), upper = [Int](repeating: -1, count: m)
        var i = n - 1, j = m - 1
        while true {
            lower[j] = min(lower[j], i)
            upper[j] = max(upper[j], i)
            if i == 0 && j == 0 { break }
            let diagonal = i > 0 && j > 0 ? acc[(i - 1) * m + j - 1] : infinity
            let up = i > 0 ? acc[(i - 1) * m + j] : infinity
            let left = j > 0 ? acc[i * m + j - 1] : infinity
            if diagonal <= up && diagonal <= left {
                i -= 1
                j -= 1
            } else if up <= left {
                i -= 1
            } else {
                j -= 1
            }
        }
        return SequenceAlignment(sources: (0..<m).map { lower[$0]..<(upper[$0] + 1) }, cost: Int(acc[n * m - 1]))
    }

    /// Each token's index among the sequence's distinct tokens, and those tokens in order of first appearance.
    private static func localIndex(_ tokens: [Int32]) -> ([Int32], [Int32]) {
        var index: [Int32: Int32] = [:]
        var distinct: [Int32] = []
        let local = tokens.map { t -> Int32 in
            if let i = index[t] { return i }
            let i = Int32(distinct.count)
            index[t] = i
            distinct.append(t)
            return i
        }
        return (local, distinct)
    }
}
