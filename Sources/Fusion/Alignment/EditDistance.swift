/// Levenshtein distance (unit cost insert / delete / substitute) between a pattern and many texts, by Myers'
/// bit-parallel algorithm in Hyyrö's formulation for global distance: one 64-bit word per 64 pattern units and
/// text unit, blocks chained through their horizontal deltas (as edlib does) for patterns longer than 64.
///
/// Units are dense codes `0..<alphabetSize` (see `UnitAlphabet`). One instance per thread: `setPattern` fills the
/// match-mask table for the pattern's units only and `distance` reads it, so nothing is allocated per pair.
final class EditDistanceMatcher {
    let alphabetSize: Int
    private var peq: UnsafeMutablePointer<UInt64>
    private var blockCapacity: Int
    private var pv: UnsafeMutablePointer<UInt64>
    private var mv: UnsafeMutablePointer<UInt64>
    private var pattern: [UInt32] = []
    private(set) var patternLength = 0
    private var blocks = 0

    init(alphabetSize: Int) {
        self.alphabetSize = max(1, alphabetSize)
        blockCapacity = 1
        peq = .allocate(capacity: self.alphabetSize)
        peq.initialize(repeating: 0, count: self.alphabetSize)
        pv = .allocate(capacity: 1)
        mv = .allocate(capacity: 1)
    }

    deinit {
        peq.deallocate()
        pv.deallocate()
        mv.deallocate()
    }

    /// Makes `codes` the pattern of the following `distance` calls.
    func setPattern(_ codes: UnsafeBufferPointer<UInt32>) {
        // Clear the previous pattern's masks (touching only its units keeps this O(pattern)).
        for (i, c) in pattern.enumerated() { peq[(i >> 6) * alphabetSize + Int(c)] = 0 }
        pattern.removeAll(keepingCapacity: true)
        pattern.append(contentsOf: codes)
        patternLength = codes.count
        blocks = (codes.count + 63) >> 6
        if blocks > blockCapacity {
            peq.deallocate()
            pv.deallocate()
            mv.deallocate()
            blockCapacity = blocks
            peq = .allocate(capacity: blocks * alphabetSize)
            peq.initialize(repeating: 0, count: blocks * alphabetSize)
            pv = .allocate(capacity: blocks)
            mv = .allocate(capacity: blocks)
        }
        for (i, c) in codes.enumerated() {
            precondition(Int(c) < alphabetSize, "unit code outside the alphabet")
            peq[(i >> 6) * alphabetSize + Int(c)] |= 1 << UInt64(i & 63)
        }
    }

    /// The distance from the pattern to `text`, or any value > `limit` as soon as it must exceed `limit`
    /// (the last row's score can fall by at most one per remaining text unit).
    func distance(_ text: UnsafeBufferPointer<UInt32>, limit: Int = .max) -> Int {
        let m = patternLength, n = text.count
        if m == 0 { return n }
        if n == 0 { return m }
        if abs(m - n) > limit { return limit + 1 }
        return blocks == 1 ? singleBlock(text, limit: limit) : multiBlock(text, limit: limit)
    }

    private func singleBlock(_ text: UnsafeBufferPointer<UInt32>, limit: Int) -> Int {
        let m = patternLength, n = text.count
        let high: UInt64 = 1 << UInt64(m - 1)
        var pvw: UInt64 = ~0, mvw: UInt64 = 0
        var score = m
        var absent = 0
        let table = peq
        for j in 0..<n {
            let eq = table[Int(text[j])]
            // A text unit found nowhere in the pattern costs an edit on any alignment: a cheap lower bound.
            if eq == 0 {
                absent += 1
                if absent > limit { return limit + 1 }
            }
            let xv = eq | mvw
            let xh = (((eq & pvw) &+ pvw) ^ pvw) | eq
            var ph = mvw | ~(xh | pvw)
            var mh = pvw & xh
            if ph & high != 0 { score += 1 } else if mh & high != 0 { score -= 1 }
            // Global distance: the top row grows by one per column (horizontal delta +1 enters at row 0).
            ph = (ph << 1) | 1
            mh = mh << 1
            pvw = mh | ~(xv | ph)
            mvw = ph & xv
            if score - (n - 1 - j) > limit { return limit + 1 }
        }
        return score
    }

    private func multiBlock(_ text: UnsafeBufferPointer<UInt32>, limit: Int) -> Int {
        let m = patternLength, n = text.count, nb = blocks
        let lastHigh: UInt64 = 1 << UInt64((m - 1) & 63)
        for b in 0..<nb {
            pv[b] = ~0
            mv[b] = 0
        }
        var score = m
        for j in 0..<n {
            let c = Int(text[j])
            var hin = 1
            for b in 0..<nb {
                var eq = peq[b * alphabetSize + c]
                let pvw = pv[b], mvw = mv[b]
                let xv = eq | mvw
                if hin < 0 { eq |= 1 }
                let xh = (((eq & pvw) &+ pvw) ^ pvw) | eq
                var ph = mvw | ~(xh | pvw)
                var mh = pvw & xh
                let high: UInt64 = b == nb - 1 ? lastHigh : 1 << 63
                let hout = ph & high != 0 ? 1 : (mh & high != 0 ? -1 : 0)
                ph <<= 1
                mh <<= 1
                if hin < 0 { mh |= 1 } else if hin > 0 { ph |= 1 }
                pv[b] = mh | ~(xv | ph)
                mv[b] = ph & xv
                hin = hout
            }
            score += hin
            if score - (n - 1 - j) > limit { return limit + 1 }
        }
        return score
    }
}

/// Dense codes for units: every unit that occurs in the vocabularies it was built from gets 0, 1, 2, … in order of
/// first appearance, so the matcher's mask table has one row per distinct unit.
struct UnitAlphabet {
    private var code: [UInt32: UInt32] = [:]
    var size: Int { code.count }

    mutating func encode(_ units: ArraySlice<UInt32>, into out: inout [UInt32], dropSpaces: Bool = false) {
        for u in units where !(dropSpaces && u == NormalizedVocabulary.space) {
            if let c = code[u] {
                out.append(c)
            } else {
                let c = UInt32(code.count)
                code[u] = c
                out.append(c)
            }
        }
    }
}

/// One vocabulary's entries as dense codes, back to back (entry i is codes[offsets[i]..<offsets[i+1]]).
struct CodedVocabulary {
    var codes: [UInt32] = []
    var offsets: [Int32] = [0]

    init(_ vocabulary: NormalizedVocabulary, alphabet: inout UnitAlphabet, dropSpaces: Bool) {
        codes.reserveCapacity(vocabulary.units.count)
        offsets.reserveCapacity(vocabulary.count + 1)
        for id in 0..<vocabulary.count {
            alphabet.encode(vocabulary.units(of: Int32(id)), into: &codes, dropSpaces: dropSpaces)
            offsets.append(Int32(codes.count))
        }
    }

    func length(_ id: Int) -> Int { Int(offsets[id + 1] - offsets[id]) }

    /// Runs `body` on entry `id`'s codes (no copy).
    @inline(__always)
    func withCodes<R>(_ id: Int, _ body: (UnsafeBufferPointer<UInt32>) -> R) -> R {
        codes.withUnsafeBufferPointer { all in
            body(UnsafeBufferPointer(rebasing: all[Int(offsets[id])..<Int(offsets[id + 1])]))
        }
    }
}
