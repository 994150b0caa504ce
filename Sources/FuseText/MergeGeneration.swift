/// Merges recovered from a vocabulary, as transformers' `generate_merges` does (tokenization_utils_base.py):
/// every token split in two (at each scalar boundary) whose halves are both tokens gives a merge; each token's
/// merges are ordered by the ids of their halves; then all merges are sorted stably by
/// (score, scalar length of the left half, of the right half) — descending when `scores` are given (GGUF,
/// sentencepiece), else ascending with the token's id as its score.
///
/// `tokens` are in id order; like the Python dicts, a token listed twice keeps its first position in iteration
/// order and its last id and score.
struct GeneratedMerge {
    let left: String
    let right: String
    let score: Float
}

func generateMerges(tokens: [String], scores: [Float]?, include: ((Int) -> Bool)? = nil) -> [GeneratedMerge] {
    var vocab: [TokenKey: Int] = [:]
    vocab.reserveCapacity(tokens.count)
    var order: [String] = []
    for (i, t) in tokens.enumerated() {
        if vocab.updateValue(i, forToken: t) == nil { order.append(t) }
    }
    var scoreOf: [TokenKey: Float] = [:]
    if let scores {
        for (t, s) in zip(tokens, scores) { scoreOf[t] = s }
    }
    struct Candidate {
        let left: String, right: String, score: Float, leftLength: Int, rightLength: Int
    }
    var all: [Candidate] = []
    for token in order {
        let id = vocab[token]!
        if let include, !include(id) { continue }
        let score = scores != nil ? scoreOf[token]! : Float(id)
        let scalars = Array(token.unicodeScalars)
        guard scalars.count >= 2 else { continue }
        var local: [(Candidate, Int, Int)] = []
        for cut in 1..<scalars.count {
            var l = String.UnicodeScalarView(), r = String.UnicodeScalarView()
            l.append(contentsOf: scalars[..<cut])
            r.append(contentsOf: scalars[cut...])
            let left = String(l), right = String(r)
            if let li = vocab[left], let ri = vocab[right] {
                local.append((Candidate(left: left, right: right, score: score, leftLength: cut,
                                        rightLength: scalars.count - cut), li, ri))
            }
        }
        // Stable sort by (id of left, id of right).
        let sorted = local.enumerated().sorted {
            ($0.element.1, $0.element.2, $0.offset) < ($1.element.1, $1.element.2, $1.offset)
        }
        all.append(contentsOf: sorted.map { $0.element.0 })
    }
    let descending = scores != nil
    let indexed = all.enumerated().sorted { a, b in
        let x = a.element, y = b.element
        if x.score != y.score { return descending ? x.score > y.score : x.score < y.score }
        if x.leftLength != y.leftLength { return descending ? x.leftLength > y.leftLength : x.leftLength < y.leftLength }
        if x.rightLength != y.rightLength {
            return descending ? x.rightLength > y.rightLength : x.rightLength < y.rightLength
        }
        return a.offset < b.offset
    }
    return indexed.map { GeneratedMerge(left: $0.element.left, right: $0.element.right, score: $0.element.score) }
}
