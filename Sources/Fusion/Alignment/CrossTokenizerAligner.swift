import Foundation

/// Where a row that cannot take the source's distribution puts its one-hot.
public enum OneHotPlacement: String, Sendable, CaseIterable {
    /// On the token the row predicts (target token t+1); the text's last row, which has no next token in the
    /// text, is left empty (the fusion then takes the target's own row there).
    case nextToken = "next"
    /// On the row's own input token t, as the reference's `transform_step_logits` does (faithful, arguably a bug:
    /// row t predicts token t+1).
    case currentToken = "current"
}

/// Puts a source's dumped distributions onto the target's tokens of the same text: DTW (or, with `.offsets`, the
/// tokens' byte spans: `OffsetAlignment`) pairs the positions, the vocabulary map renames the ids. Rules
/// (docs/alignment.md), per target row t:
///
/// - t is paired with exactly one source position s, and the two tokens match (the map sends source token s to
///   target token t, or their normalised units are equal; at t = 0 a leading space on either side is ignored):
///   the row is source row s with every id mapped, unmapped ids dropped, and a target id that appears again
///   (two source ids mapped onto one) keeps only its first, highest entry, as the reference does;
/// - otherwise (no match, or t paired with several source positions): a one-hot row, one entry with logit 0,
///   placed as `oneHot` says.
///
/// The same tokenizer on both sides with the same tokens passes the rows through unchanged.
public struct CrossTokenizerAligner: TextAligner {
    /// The largest DTW matrix `align` accepts (256 MB), far above two 2000-token texts (4 M cells).
    public static let maxCells = 1 << 26
    public let source: NormalizedVocabulary
    public let target: NormalizedVocabulary
    public let map: VocabularyMap
    public let oneHot: OneHotPlacement
    public let method: AlignmentMethod
    public let distance: TokenDistance

    /// `map` must have been made for these two vocabularies (`VocabularyMapCache.loadOrBuild` checks a cached one).
    public init(source: NormalizedVocabulary, target: NormalizedVocabulary, map: VocabularyMap,
                oneHot: OneHotPlacement = .nextToken, method: AlignmentMethod = .dtw) {
        precondition(map.sourceFingerprint == source.fingerprint && map.targetFingerprint == target.fingerprint
                     && map.sourceCount == source.count && map.targetCount == target.count,
                     "the vocabulary map (\(map.sourceFingerprint) → \(map.targetFingerprint)) was made for other tokenizers "
                     + "than the source \(source.fingerprint) and target \(target.fingerprint)")
        self.source = source
        self.target = target
        self.map = map
        self.oneHot = oneHot
        self.method = method
        distance = TokenDistance(source: source, target: target)
    }

    public func align(_ teacher: TeacherText, targetTokens: [Int32]) throws -> AlignedDistributions {
        try validate(teacher, targetTokens: targetTokens)
        if map.isIdentity && teacher.tokens == targetTokens {
            return AlignedDistributions(positions: targetTokens.count, width: teacher.k, ids: teacher.topIDs,
                                        logits: teacher.topLogProbs)
        }
        return transform(teacher, targetTokens: targetTokens, alignment: pairing(teacher.tokens, targetTokens))
    }

    /// The positions' pairing by the chosen method (DTW where the byte spans of a text do not add up).
    public func pairing(_ sourceTokens: [Int32], _ targetTokens: [Int32]) -> SequenceAlignment {
        if method == .offsets, let exact = OffsetAlignment.compute(sourceTokens: sourceTokens, targetTokens: targetTokens,
                                                                   source: source, target: target) {
            return exact
        }
        return SequenceAlignment.compute(sourceTokens: sourceTokens, targetTokens: targetTokens, distance: distance)
    }

    /// The rows of `teacher` on `targetTokens` given their DTW alignment.
    public func transform(_ teacher: TeacherText, targetTokens: [Int32], alignment: SequenceAlignment) -> AlignedDistributions {
        let m = targetTokens.count, k = teacher.k, width = max(1, k)
        precondition(alignment.sources.count == m, "alignment of \(alignment.sources.count) target positions for \(m) tokens")
        var ids = [Int32](repeating: -1, count: m * width)
        var logits = [Float](repeating: 0, count: m * width)
        var provenance = [RowProvenance](repeating: RowProvenance(taken: false), count: m)
        for t in 0..<m {
            let out = t * width
            let sources = alignment.sources[t]
            if sources.count == 1, tokensMatch(source: teacher.tokens[sources.lowerBound], target: targetTokens[t], first: t == 0) {
                let row = sources.lowerBound * k
                var filled = 0, edited = 0
                for e in 0..<k {
                    let id = teacher.topIDs[row + e]
                    let mapped = map.target(of: id)
                    guard mapped >= 0 else { continue }
                    var seen = false
                    for f in 0..<filled where ids[out + f] == mapped { seen = true; break }
                    guard !seen else { continue }
                    ids[out + filled] = mapped
                    logits[out + filled] = teacher.topLogProbs[row + e]
                    filled += 1
                    if map.distances[Int(id)] > 0 { edited += 1 }
                }
                provenance[t] = RowProvenance(taken: true, exact: filled - edited, edited: edited, dropped: k - filled,
                                              sourceRow: sources.lowerBound)
            } else {
                switch oneHot {
                case .currentToken: ids[out] = targetTokens[t]
                case .nextToken: if t + 1 < m { ids[out] = targetTokens[t + 1] }
                }
            }
        }
        return AlignedDistributions(positions: m, width: width, ids: ids, logits: logits, provenance: provenance)
    }

    /// Whether source token `s` stands for target token `t` (the reference's `base_token == blending_token` or the
    /// vocabulary map's `blending_to_base_mapping[blending_token] == base_token`).
    func tokensMatch(source s: Int32, target t: Int32, first: Bool) -> Bool {
        if map.target(of: s) == t { return true }
        var a = source.units(of: s), b = target.units(of: t)
        if first {
            // The reference's special case for the first token: one tokenizer adds a dummy-prefix space, the other not.
            if a.first == NormalizedVocabulary.space { a = a.dropFirst() }
            if b.first == NormalizedVocabulary.space { b = b.dropFirst() }
        }
        return a.elementsEqual(b)
    }

    private func validate(_ teacher: TeacherText, targetTokens: [Int32]) throws {
        let name = "text \(teacher.textID)"
        if let bad = teacher.tokens.first(where: { $0 < 0 || Int($0) >= source.count }) {
            throw FusionError("\(name): the dump holds token id \(bad), outside the source vocabulary of \(source.count); "
                              + "was it made with this source's tokenizer?")
        }
        if let bad = teacher.topIDs.first(where: { $0 < 0 || Int($0) >= source.count }) {
            throw FusionError("\(name): the dump's top-k holds id \(bad), outside the source vocabulary of \(source.count)")
        }
        if let bad = targetTokens.first(where: { $0 < 0 || Int($0) >= target.count }) {
            throw FusionError("\(name): target token id \(bad) is outside the target vocabulary of \(target.count)")
        }
        // DTW keeps the whole n·m matrix (4 bytes a cell); prepared texts are cut at 2000 tokens (16 MB).
        guard teacher.tokens.count * targetTokens.count <= Self.maxCells else {
            throw FusionError("\(name): \(teacher.tokens.count) source × \(targetTokens.count) target tokens is too long to "
                              + "align (at most \(Self.maxCells) DTW cells); cut texts into pieces of at most 2000 tokens")
        }
    }
}
