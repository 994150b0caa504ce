/// A token matched whole in the text before pre-tokenization (HF `AddedToken`).
public struct AddedToken: Sendable, Equatable {
    public var id: Int32
    public var content: String
    public var special: Bool
    /// Matched against the normalized text (its own content normalized) rather than the raw text.
    public var normalized: Bool
    /// Takes the whitespace on its left / right with it.
    public var lstrip: Bool
    public var rstrip: Bool
    /// Only matches when not inside a word.
    public var singleWord: Bool

    public init(id: Int32, content: String, special: Bool, normalized: Bool = false, lstrip: Bool = false,
                rstrip: Bool = false, singleWord: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
    }

    /// Byte equality of `content` (not Swift's canonical equivalence).
    public static func == (a: AddedToken, b: AddedToken) -> Bool {
        a.id == b.id && sameBytes(a.content, b.content) && a.special == b.special && a.normalized == b.normalized
            && a.lstrip == b.lstrip && a.rstrip == b.rstrip && a.singleWord == b.singleWord
    }
}

/// Finds added tokens in text the way HF `AddedVocabulary::find_matches` does: leftmost-longest matches of the
/// patterns (a byte trie walked from each position), then `single_word` / `lstrip` / `rstrip`.
struct AddedTokenMatcher: Sendable {
    private struct Node: Sendable {
        var children: [UInt8: Int32] = [:]
        var token: Int32 = -1        // index into `tokens`
    }

    private var nodes: [Node] = [Node()]
    private var firstByte = [Bool](repeating: false, count: 256)
    private(set) var tokens: [AddedToken] = []

    var isEmpty: Bool { tokens.isEmpty }

    /// `patterns[i]` is what `tokens[i]` matches (its content, or its normalized content).
    init(tokens: [AddedToken], patterns: [String]) {
        for (t, pattern) in zip(tokens, patterns) {
            let bytes = Array(pattern.utf8)
            guard !bytes.isEmpty else { continue }
            var node = 0
            for b in bytes {
                if let child = nodes[node].children[b] {
                    node = Int(child)
                } else {
                    nodes.append(Node())
                    nodes[node].children[b] = Int32(nodes.count - 1)
                    node = nodes.count - 1
                }
            }
            // Two tokens with one pattern: the later one wins (as rebuilding HF's trie from its map would pick one).
            if nodes[node].token < 0 {
                self.tokens.append(t)
                nodes[node].token = Int32(self.tokens.count - 1)
            } else {
                self.tokens[Int(nodes[node].token)] = t
            }
            firstByte[Int(bytes[0])] = true
        }
    }

    /// The longest pattern starting at byte `i`: its end and its token.
    func longestMatch(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (Int, AddedToken)? {
        guard i < p.count, firstByte[Int(p[i])] else { return nil }
        var node = 0
        var bestEnd = -1
        var best: Int32 = -1
        var k = i
        while k < p.count, let child = nodes[node].children[p[k]] {
            node = Int(child)
            k += 1
            if nodes[node].token >= 0 { bestEnd = k; best = nodes[node].token }
        }
        return best >= 0 ? (bestEnd, tokens[Int(best)]) : nil
    }

    /// Splits `text` into (range, token id or nil) covering it; no pieces for empty text.
    func split(_ p: UnsafeBufferPointer<UInt8>) -> [(Range<Int>, Int32?)] {
        let n = p.count
        guard n > 0 else { return [] }
        guard !tokens.isEmpty else { return [(0..<n, nil)] }
        var out: [(Range<Int>, Int32?)] = []
        var startOffset = 0
        var i = 0
        while i < n {
            guard let (bestEnd, token) = longestMatch(p, at: i) else { i += 1; continue }
            var start = i
            var stop = bestEnd
            if token.singleWord {
                let startSpace = start == 0 || !endsWithWordChar(p, start)
                let stopSpace = stop == n || !startsWithWordChar(p, stop)
                if !startSpace || !stopSpace { i = bestEnd; continue }
            }
            if token.lstrip {
                start = max(whitespaceRunStart(p, before: start), startOffset)
            }
            if token.rstrip {
                stop = whitespaceRunEnd(p, from: stop)
            }
            if startOffset < start { out.append((startOffset..<start, nil)) }
            out.append((start..<stop, token.id))
            startOffset = stop
            // The search goes on after the pattern (not after stripped spaces), as HF's does.
            i = bestEnd
            if i < startOffset { i = startOffset }
        }
        if startOffset != n { out.append((startOffset..<n, nil)) }
        return out
    }
}

/// Scalar ending just before byte `end`.
private func scalarBefore(_ p: UnsafeBufferPointer<UInt8>, _ end: Int) -> (UInt32, Int)? {
    guard end > 0 else { return nil }
    var s = end - 1
    while s > 0, p[s] & 0xC0 == 0x80 { s -= 1 }
    let (v, _) = decodeScalar(p, s)
    return (v, s)
}

/// Rust regex `\w`: Alphabetic, marks, decimal numbers, connector punctuation, Join_Control.
private func isWordScalar(_ v: UInt32) -> Bool {
    guard let s = Unicode.Scalar(v) else { return false }
    let p = s.properties
    if p.isAlphabetic || p.isJoinControl { return true }
    switch p.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
}

private func endsWithWordChar(_ p: UnsafeBufferPointer<UInt8>, _ end: Int) -> Bool {
    guard let (v, _) = scalarBefore(p, end) else { return false }
    return isWordScalar(v)
}

private func startsWithWordChar(_ p: UnsafeBufferPointer<UInt8>, _ start: Int) -> Bool {
    guard start < p.count else { return false }
    return isWordScalar(decodeScalar(p, start).0)
}

private func isWhite(_ v: UInt32) -> Bool { ScalarClass.of(v) & ScalarClass.space != 0 }

/// Start of the whitespace run ending at `before`.
private func whitespaceRunStart(_ p: UnsafeBufferPointer<UInt8>, before: Int) -> Int {
    var end = before
    while let (v, s) = scalarBefore(p, end), isWhite(v) { end = s }
    return end
}

/// End of the whitespace run starting at `from`.
private func whitespaceRunEnd(_ p: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
    var i = from
    while i < p.count {
        let (v, len) = decodeScalar(p, i)
        guard isWhite(v) else { break }
        i += len
    }
    return i
}
