import HeapModule

/// How the words a pre-tokenizer hands the model are spelled.
enum WordSpelling: Sendable {
    /// Raw UTF-8 bytes; each byte is one character of GPT-2's byte alphabet (`ByteLevelAlphabet`).
    case byteLevel
    /// UTF-8 text; each Unicode scalar is one initial symbol.
    case characters
}

/// A BPE model as HF `tokenizers` runs it (models/bpe: `merge_word` + word.rs `merge_all`): each word starts as
/// one symbol per character (its vocabulary id, else its `<0xNN>` byte tokens when `byte_fallback`, else the
/// unknown token, fused when `fuse_unk`, else nothing), then the pair of neighbours with the lowest merge rank
/// (leftmost first) is merged, over a linked list of symbols with a priority queue of candidate merges, until
/// no pair has a merge.
final class BPEModel: @unchecked Sendable {
    /// Token → id of the model's vocabulary (added tokens live elsewhere).
    let vocab: [TokenKey: Int32]
    /// Id → token; nil where no token has that id.
    let tokens: [String?]
    let merges: MergeTable
    /// The merges as given, and their ranks (nil: rank = index); for writing the model back.
    let mergeList: [(String, String)]
    let mergeRanks: [Int32]?
    let unkToken: String?
    let unkID: Int32?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    let spelling: WordSpelling
    /// Ids of pieces that sentencepiece marks UNUSED: they are split back into the pair that formed them.
    let unusedIDs: Set<Int32>

    // Initial symbols.
    private let byteInitial: [[Int32]]          // byte-level: ids of each byte's character (empty: unknown)
    private let byteKnown: [Bool]               // byte-level: the byte's character is in the vocabulary
    private let bmpInitial: [Int32]             // characters: id of each BMP scalar, -1 none
    private let astralInitial: [UInt32: Int32]
    private let fallbackIDs: [Int32]            // <0xNN> ids, -1 when absent
    private let wholeWords: ByteStringMap?      // ignore_merges: word (as spelled for the model) → id
    /// UTF-8 of "▁" when no token holds it after another scalar (and it is a token itself): then no merge
    /// crosses a boundary before a "▁" that follows something else, and a long word can be cut there and its
    /// pieces encoded (and cached) apart with the same result. Sentencepiece-style text is one long word.
    private let cutBefore: [UInt8]?
    let cache = WordCache()

    struct Invalid: Error { let message: String }

    /// `merges` are pairs of token strings in rank order; each pair and its concatenation must be in `vocab`.
    /// `ranks` overrides the rank of each merge (sentencepiece: equal scores share a rank).
    init(vocab: [TokenKey: Int32], merges: [(String, String)], ranks: [Int32]? = nil, unkToken: String?,
         fuseUnk: Bool, byteFallback: Bool, ignoreMerges: Bool, spelling: WordSpelling,
         unusedIDs: Set<Int32> = []) throws {
        self.vocab = vocab
        let maxID = vocab.values.max() ?? -1
        var tokens = [String?](repeating: nil, count: Int(maxID) + 1)
        for (key, id) in vocab {
            let t = key.string
            guard id >= 0 else { throw Invalid(message: "token \(debugQuote(t)) has a negative id \(id)") }
            // Two tokens with one id: keep one deterministically (the smaller string).
            if let old = tokens[Int(id)], Array(old.utf8).lexicographicallyPrecedes(key.utf8) { continue }
            tokens[Int(id)] = t
        }
        self.tokens = tokens
        var table = MergeTable(expected: merges.count)
        for (i, (a, b)) in merges.enumerated() {
            guard let aID = vocab[a] else { throw Invalid(message: "merge \(i) (\(debugQuote(a)) \(debugQuote(b))): \(debugQuote(a)) is not in the vocabulary") }
            guard let bID = vocab[b] else { throw Invalid(message: "merge \(i) (\(debugQuote(a)) \(debugQuote(b))): \(debugQuote(b)) is not in the vocabulary") }
            guard let newID = vocab[a + b] else {
                throw Invalid(message: "merge \(i) (\(debugQuote(a)) \(debugQuote(b))): the merged token \(debugQuote(a + b)) is not in the vocabulary")
            }
            table.set(aID, bID, rank: ranks?[i] ?? Int32(i), newID: newID)
        }
        self.merges = table
        self.mergeList = merges
        self.mergeRanks = ranks
        self.unkToken = unkToken
        if let unk = unkToken {
            guard let id = vocab[unk] else { throw Invalid(message: "the unknown token \(debugQuote(unk)) is not in the vocabulary") }
            unkID = id
        } else {
            unkID = nil
        }
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        self.spelling = spelling
        self.unusedIDs = unusedIDs

        var fallback = [Int32](repeating: -1, count: 256)
        if byteFallback {
            for b in 0..<256 { fallback[b] = vocab[byteToken(UInt8(b))] ?? -1 }
        }
        fallbackIDs = fallback

        switch spelling {
        case .byteLevel:
            var initial = [[Int32]](repeating: [], count: 256)
            var known = [Bool](repeating: false, count: 256)
            for b in 0..<256 {
                let ch = String(Character(Unicode.Scalar(ByteLevelAlphabet.scalarOfByte[b])!))
                if let id = vocab[ch] {
                    initial[b] = [id]
                    known[b] = true
                } else if byteFallback {
                    let ids = ch.utf8.map { fallback[Int($0)] }
                    if !ids.contains(-1) { initial[b] = ids }
                }
            }
            byteInitial = initial
            byteKnown = known
            bmpInitial = []
            astralInitial = [:]
        case .characters:
            var bmp = [Int32](repeating: -1, count: 0x10000)
            var astral: [UInt32: Int32] = [:]
            for (key, id) in vocab {
                let scalars = key.string.unicodeScalars
                guard scalars.count == 1, let s = scalars.first else { continue }
                if s.value < 0x10000 { bmp[Int(s.value)] = id } else { astral[s.value] = id }
            }
            byteInitial = []
            byteKnown = []
            bmpInitial = bmp
            astralInitial = astral
        }

        var cut: [UInt8]? = nil
        if spelling == .characters, !ignoreMerges, vocab["\u{2581}"] != nil {
            let mark: Unicode.Scalar = "\u{2581}"
            let crossed = vocab.keys.contains { key in
                var previous: Unicode.Scalar?
                for s in key.string.unicodeScalars {
                    if s == mark, let p = previous, p != mark { return true }
                    previous = s
                }
                return false
            }
            if !crossed { cut = [0xE2, 0x96, 0x81] }
        }
        cutBefore = cut

        if ignoreMerges {
            var map = ByteStringMap(expected: vocab.count)
            for (key, id) in vocab {
                switch spelling {
                case .byteLevel:
                    if let raw = ByteLevelAlphabet.unspell(key.string) { map.insert(raw, id) }
                case .characters:
                    map.insert(key.utf8, id)
                }
            }
            wholeWords = map
        } else {
            wholeWords = nil
        }
    }

    var maxID: Int32 { Int32(tokens.count) - 1 }

    /// Merges in rank order as HF would write them: a pair listed twice keeps only the occurrence that set its rank.
    func orderedMerges() -> [(String, String)] {
        var out: [(String, String)] = []
        out.reserveCapacity(mergeList.count)
        for (i, (a, b)) in mergeList.enumerated() {
            let rank = mergeRanks?[i] ?? Int32(i)
            guard let aID = vocab[a], let bID = vocab[b] else { continue }
            let m = merges.lookup(aID, bID)
            if m != MergeTable.empty, Int32(bitPattern: UInt32(m >> 32)) == rank { out.append((a, b)) }
        }
        // Ranks never decrease along the list (HF: the index; sentencepiece: by descending score), so this is
        // rank order.
        return out
    }

    func token(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < tokens.count else { return nil }
        return tokens[Int(id)]
    }

    /// Appends the ids of `word` to `out`.
    func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32], scratch: inout MergeScratch,
                    useCache: Bool = true) {
        guard word.count > 0 else { return }
        if let cut = cutBefore, word.count > 64 {
            // Pieces start at each "▁" that follows another scalar.
            var start = 0
            var i = 1
            let n = word.count
            while i + 2 < n {
                if word[i] == cut[0], word[i + 1] == cut[1], word[i + 2] == cut[2],
                   !(i >= 3 && word[i - 3] == cut[0] && word[i - 2] == cut[1] && word[i - 1] == cut[2]) {
                    encodePiece(UnsafeBufferPointer(rebasing: word[start..<i]), into: &out, scratch: &scratch, useCache: useCache)
                    start = i
                    i += 3
                } else {
                    i += 1
                }
            }
            encodePiece(UnsafeBufferPointer(rebasing: word[start...]), into: &out, scratch: &scratch, useCache: useCache)
            return
        }
        encodePiece(word, into: &out, scratch: &scratch, useCache: useCache)
    }

    @inline(__always)
    private func encodePiece(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32], scratch: inout MergeScratch,
                             useCache: Bool) {
        guard word.count > 0 else { return }
        let cacheable = useCache && word.count < WordCache.maxWordBytes
        var h: UInt64 = 0
        if cacheable {
            h = hashBytes(word)
            if cache.lookup(word, hash: h, into: &out) { return }
        }
        let start = out.count
        if let whole = wholeWords, let id = whole.find(word) {
            out.append(id)
        } else {
            initialSymbols(word, scratch: &scratch)
            let reseg = !unusedIDs.isEmpty
            if reseg { scratch.formedFrom.removeAll(keepingCapacity: true) }
            scratch.mergeAll(merges, recordFormation: reseg)
            scratch.emit(into: &out, model: self)
        }
        if cacheable { cache.insert(word, hash: h, ids: out[start...]) }
    }

    /// Fills `scratch.ids` with the word's initial symbols (HF `merge_word` before `merge_all`).
    @inline(__always)
    private func initialSymbols(_ word: UnsafeBufferPointer<UInt8>, scratch: inout MergeScratch) {
        scratch.reset()
        var pendingUnk = false
        @inline(__always) func unknown() {
            guard let unk = unkID else { return }
            if pendingUnk {
                if !fuseUnk { scratch.append(unk) }
            }
            pendingUnk = true
        }
        @inline(__always) func known(_ id: Int32) {
            if pendingUnk, let unk = unkID { scratch.append(unk); pendingUnk = false }
            scratch.append(id)
        }
        switch spelling {
        case .byteLevel:
            for b in word {
                let ids = byteInitial[Int(b)]
                if byteKnown[Int(b)] {
                    known(ids[0])
                } else if !ids.isEmpty {
                    // Byte fallback: added without flushing a pending unknown (as HF does).
                    for id in ids { scratch.append(id) }
                } else {
                    unknown()
                }
            }
        case .characters:
            var i = 0
            let n = word.count
            while i < n {
                let (v, len) = decodeScalar(word, i)
                let id: Int32 = v < 0x10000 ? bmpInitial[Int(v)] : (astralInitial[v] ?? -1)
                if id >= 0 {
                    known(id)
                } else {
                    var done = false
                    if byteFallback {
                        var all = true
                        for k in 0..<len where fallbackIDs[Int(word[i + k])] < 0 { all = false }
                        if all {
                            for k in 0..<len { scratch.append(fallbackIDs[Int(word[i + k])]) }
                            done = true
                        }
                    }
                    if !done { unknown() }
                }
                i += len
            }
        }
        if pendingUnk, let unk = unkID { scratch.append(unk) }
    }

}

/// `<0xNN>`, the byte-fallback token of a byte.
func byteToken(_ b: UInt8) -> String {
    let hex = Array("0123456789ABCDEF")
    return "<0x\(hex[Int(b >> 4)])\(hex[Int(b & 15)])>"
}

func debugQuote(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += String(format: "\\u{%02X}", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A candidate merge: ordered by rank, then by position (HF word.rs `Merge`).
struct MergeCandidate: Comparable {
    let key: UInt64        // rank << 32 | position
    let newID: Int32

    static func < (a: MergeCandidate, b: MergeCandidate) -> Bool { a.key < b.key }
    static func == (a: MergeCandidate, b: MergeCandidate) -> Bool { a.key == b.key && a.newID == b.newID }
}

/// Per-call working memory of the merge loop (symbols as a linked list over arrays, and the heap).
struct MergeScratch {
    var ids: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var alive: [Bool] = []
    var heap = Heap<MergeCandidate>()
    /// sentencepiece resegmentation: merged id → the pair of ids it was last formed from.
    var formedFrom: [Int32: (Int32, Int32)] = [:]

    init() {}

    @inline(__always)
    mutating func reset() {
        ids.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        alive.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    mutating func append(_ id: Int32) {
        let i = Int32(ids.count)
        ids.append(id)
        prev.append(i - 1)
        next.append(i + 1)
        alive.append(true)
    }

    /// HF word.rs `merge_all` (no dropout).
    mutating func mergeAll(_ merges: MergeTable, recordFormation: Bool = false) {
        let n = ids.count
        guard n > 1 else { return }
        next[n - 1] = -1
        // The heap is empty here: every call drains it.
        for i in 0..<(n - 1) {
            let m = merges.lookup(ids[i], ids[i + 1])
            if m != MergeTable.empty {
                heap.insert(MergeCandidate(key: (m & 0xFFFF_FFFF_0000_0000) | UInt64(i),
                                           newID: Int32(bitPattern: UInt32(m & 0xFFFF_FFFF))))
            }
        }
        while let top = heap.popMin() {
            let pos = Int(top.key & 0xFFFF_FFFF)
            guard alive[pos] else { continue }
            let nextPos = Int(next[pos])
            guard nextPos >= 0 else { continue }
            // Skip stale candidates: the pair at `pos` must still merge into the same token.
            let m = merges.lookup(ids[pos], ids[nextPos])
            guard m != MergeTable.empty, Int32(bitPattern: UInt32(m & 0xFFFF_FFFF)) == top.newID else { continue }
            if recordFormation { formedFrom[top.newID] = (ids[pos], ids[nextPos]) }
            ids[pos] = top.newID
            alive[nextPos] = false
            let after = Int(next[nextPos])
            next[pos] = Int32(after)
            if after >= 0 { prev[after] = Int32(pos) }
            let before = Int(prev[pos])
            if before >= 0 {
                let mp = merges.lookup(ids[before], ids[pos])
                if mp != MergeTable.empty {
                    heap.insert(MergeCandidate(key: (mp & 0xFFFF_FFFF_0000_0000) | UInt64(before),
                                               newID: Int32(bitPattern: UInt32(mp & 0xFFFF_FFFF))))
                }
            }
            if after >= 0 {
                let mn = merges.lookup(ids[pos], ids[after])
                if mn != MergeTable.empty {
                    heap.insert(MergeCandidate(key: (mn & 0xFFFF_FFFF_0000_0000) | UInt64(pos),
                                               newID: Int32(bitPattern: UInt32(mn & 0xFFFF_FFFF))))
                }
            }
        }
    }

    /// Appends the surviving symbols in order.
    @inline(__always)
    func emit(into out: inout [Int32], model: BPEModel) {
        let n = ids.count
        guard n > 0 else { return }
        var i = 0
        if model.unusedIDs.isEmpty {
            while i >= 0 && i < n {
                out.append(ids[i])
                i = Int(next[i])
                if i >= n { break }
            }
        } else {
            while i >= 0 && i < n {
                resegment(ids[i], into: &out, model: model, depth: 0)
                i = Int(next[i])
                if i >= n { break }
            }
        }
    }

    private func resegment(_ id: Int32, into out: inout [Int32], model: BPEModel, depth: Int) {
        if model.unusedIDs.contains(id), depth < 64, let (a, b) = formedFrom[id] {
            resegment(a, into: &out, model: model, depth: depth + 1)
            resegment(b, into: &out, model: model, depth: depth + 1)
        } else {
            out.append(id)
        }
    }
}
