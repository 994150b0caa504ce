/// The pre-tokenizer regexes of GPT-2-family tokenizers, as hand-written single-pass matchers over the Unicode
/// scalars of UTF-8 text (no regex engine). Each reports its matches left to right as byte ranges, exactly as
/// Oniguruma's leftmost-first search with backtracking finds them (character classes: `ScalarClass`).
enum RegexSplitter: String, Sendable, CaseIterable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (GPT-2, ByteLevel's own)
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// As llama3 with `\p{N}` (one digit at a time): Qwen2.
    case qwen2

    var pattern: String {
        switch self {
        case .gpt2:
            return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        case .llama3:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .qwen2:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        }
    }

    init?(pattern: String) {
        guard let found = RegexSplitter.allCases.first(where: { $0.pattern == pattern }) else { return nil }
        self = found
    }

    /// Calls `emit(start, end)` for each match, in order.
    @inline(__always)
    func matches(_ p: UnsafeBufferPointer<UInt8>, _ emit: (Int, Int) -> Void) {
        switch self {
        case .gpt2: RegexSplitter.gpt2Matches(p, emit)
        case .llama3: RegexSplitter.llama3Matches(p, maxDigits: 3, emit)
        case .qwen2: RegexSplitter.llama3Matches(p, maxDigits: 1, emit)
        }
    }

    @inline(__always)
    private static func classAt(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt8, Int) {
        let b = p[i]
        if b < 0x80 { return (asciiClass[Int(b)], 1) }
        let (v, len) = decodeScalar(p, i)
        return (ScalarClass.of(v), len)
    }

    private static let asciiClass: [UInt8] = (0..<128).map { ScalarClass.of(UInt32($0)) }

    /// Class bits: letter 1, number 2, space 4. "Other" = none of these.
    @inline(__always)
    private static func isOther(_ c: UInt8) -> Bool { c & 7 == 0 }

    static func gpt2Matches(_ p: UnsafeBufferPointer<UInt8>, _ emit: (Int, Int) -> Void) {
        let n = p.count
        var i = 0
        while i < n {
            let b = p[i]
            // 's 't 're 've 'm 'll 'd
            if b == 0x27, i + 1 < n {
                let c1 = p[i + 1]
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { emit(i, i + 2); i += 2; continue }
                if i + 2 < n {
                    let c2 = p[i + 2]
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                        emit(i, i + 3); i += 3; continue
                    }
                }
            }
            // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
            let j = b == 0x20 ? i + 1 : i
            if j < n {
                let (cls, len) = classAt(p, j)
                let want: UInt8 = cls & 1 != 0 ? 1 : (cls & 2 != 0 ? 2 : (cls & 4 != 0 ? 4 : 0))
                if want != 4 {
                    var k = j + len
                    while k < n {
                        let (c, l) = classAt(p, k)
                        let same = want == 0 ? isOther(c) : (c & want != 0)
                        if !same { break }
                        k += l
                    }
                    emit(i, k); i = k; continue
                }
            }
            // '\s+(?!\S)' then '\s+': here p[i] starts whitespace.
            var k = i
            var lastStart = i
            while k < n {
                let (c, l) = classAt(p, k)
                if c & 4 == 0 { break }
                lastStart = k
                k += l
            }
            if k == i {
                // Not reachable for valid input (every scalar has a class); keep going safely.
                let l = utf8Length(p[i])
                emit(i, min(n, i + l)); i = min(n, i + l); continue
            }
            if k < n, lastStart > i {
                emit(i, lastStart); i = lastStart
            } else {
                emit(i, k); i = k
            }
        }
    }

    @inline(__always)
    private static func foldedASCII(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt8, Int) {
        let b = p[i]
        if b < 0x80 { return (b | 0x20, 1) }
        // U+017F LATIN SMALL LETTER LONG S folds to 's' in Oniguruma's case-insensitive matching.
        if b == 0xC5, i + 1 < p.count, p[i + 1] == 0xBF { return (0x73, 2) }
        return (0, utf8Length(b))
    }

    static func llama3Matches(_ p: UnsafeBufferPointer<UInt8>, maxDigits: Int, _ emit: (Int, Int) -> Void) {
        let n = p.count
        var i = 0
        while i < n {
            let b = p[i]
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if b == 0x27, i + 1 < n {
                let (c1, l1) = foldedASCII(p, i + 1)
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { emit(i, i + 1 + l1); i += 1 + l1; continue }
                if i + 1 + l1 < n {
                    let (c2, l2) = foldedASCII(p, i + 1 + l1)
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                        emit(i, i + 1 + l1 + l2); i += 1 + l1 + l2; continue
                    }
                }
            }
            let (cls, len) = classAt(p, i)
            // [^\r\n\p{L}\p{N}]?\p{L}+
            var letterStart = -1
            if cls & 1 != 0 {
                letterStart = i
            } else if cls & 2 == 0, b != 0x0D, b != 0x0A, i + len < n {
                let (c2, _) = classAt(p, i + len)
                if c2 & 1 != 0 { letterStart = i + len }
            }
            if letterStart >= 0 {
                var k = letterStart
                while k < n {
                    let (c, l) = classAt(p, k)
                    if c & 1 == 0 { break }
                    k += l
                }
                emit(i, k); i = k; continue
            }
            // \p{N}{1,maxDigits}
            if cls & 2 != 0 {
                var k = i + len
                var count = 1
                while k < n, count < maxDigits {
                    let (c, l) = classAt(p, k)
                    if c & 2 == 0 { break }
                    k += l
                    count += 1
                }
                emit(i, k); i = k; continue
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            let j = b == 0x20 ? i + 1 : i
            if j < n {
                let (cj, lj) = j == i ? (cls, len) : classAt(p, j)
                if isOther(cj) {
                    var k = j + lj
                    while k < n {
                        let (c, l) = classAt(p, k)
                        if !isOther(c) { break }
                        k += l
                    }
                    while k < n, p[k] == 0x0D || p[k] == 0x0A { k += 1 }
                    emit(i, k); i = k; continue
                }
            }
            // Whitespace run from i.
            var k = i
            var lastStart = i
            var lastNewline = -1
            while k < n {
                let (c, l) = classAt(p, k)
                if c & 4 == 0 { break }
                if p[k] == 0x0D || p[k] == 0x0A { lastNewline = k }
                lastStart = k
                k += l
            }
            if k == i {
                let l = utf8Length(p[i])
                emit(i, min(n, i + l)); i = min(n, i + l); continue
            }
            // \s*[\r\n]+
            if lastNewline >= 0 { emit(i, lastNewline + 1); i = lastNewline + 1; continue }
            // \s+(?!\S) | \s+
            if k < n, lastStart > i {
                emit(i, lastStart); i = lastStart
            } else {
                emit(i, k); i = k
            }
        }
    }
}
