/// How a split keeps the pieces a pattern matches (HF `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

enum SplitPattern: Sendable, Equatable {
    case regex(RegexSplitter)
    case string(String)
}

enum PrependScheme: String, Sendable {
    case first, never, always
}

/// One pre-tokenizer of HF `tokenizers` (a `Sequence` is flattened into a list of these).
enum PreTokenizerStep: Sendable, Equatable {
    /// Prefix space (when the piece does not start with one), GPT-2 regex split (`useRegex`), then the words are
    /// spelled in the byte alphabet. Must be the last step.
    case byteLevel(addPrefixSpace: Bool, trimOffsets: Bool, useRegex: Bool)
    /// Spaces become `replacement`; `replacement` is prepended per `prependScheme` (unless the piece starts
    /// with it; `first` = only a piece that starts the original text); `split` splits before each `replacement`.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    case split(pattern: SplitPattern, behavior: SplitBehavior, invert: Bool)
    /// Numeric scalars (general category N) apart from the rest, one by one or in runs.
    case digits(individualDigits: Bool)
}

/// Runs a list of pre-tokenizer steps over a piece of text, handing each resulting word to `emit`.
struct PreTokenizerPipeline: Sendable {
    let steps: [PreTokenizerStep]

    var spelling: WordSpelling {
        if case .byteLevel = steps.last { return .byteLevel }
        return .characters
    }

    /// `atOrigin`: the piece starts the original text (for Metaspace's `first` scheme).
    func run(_ piece: UnsafeBufferPointer<UInt8>, atOrigin: Bool, _ emit: (UnsafeBufferPointer<UInt8>) -> Void) {
        run(0, piece, atOrigin, emit)
    }

    private func run(_ k: Int, _ piece: UnsafeBufferPointer<UInt8>, _ atOrigin: Bool,
                     _ emit: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard piece.count > 0 else { return }
        guard k < steps.count else { emit(piece); return }
        switch steps[k] {
        case let .byteLevel(addPrefixSpace, _, useRegex):
            if addPrefixSpace && piece[0] != 0x20 {
                var spaced = [UInt8](repeating: 0x20, count: piece.count + 1)
                spaced.withUnsafeMutableBufferPointer { dst in
                    _ = UnsafeMutableBufferPointer(rebasing: dst[1...]).initialize(from: piece)
                }
                spaced.withUnsafeBufferPointer { byteLevelSplit(k, $0, atOrigin, useRegex, emit) }
            } else {
                byteLevelSplit(k, piece, atOrigin, useRegex, emit)
            }
        case let .metaspace(replacement, scheme, split):
            var rep: [UInt8] = []
            appendUTF8(replacement.value, to: &rep)
            var out: [UInt8] = []
            out.reserveCapacity(piece.count + 8)
            let startsWithRep = piece.count >= rep.count && (0..<rep.count).allSatisfy { piece[$0] == rep[$0] }
            let startsWithSpace = piece[0] == 0x20
            let prepend: Bool
            switch scheme {
            case .always: prepend = !(startsWithRep || startsWithSpace)
            case .first: prepend = !(startsWithRep || startsWithSpace) && atOrigin
            case .never: prepend = false
            }
            if prepend { out += rep }
            for b in piece {
                if b == 0x20 { out += rep } else { out.append(b) }
            }
            out.withUnsafeBufferPointer { buf in
                if split {
                    splitEvents(buf, behavior: .mergedWithNext, invert: false, atOrigin: atOrigin,
                                find: { p, e in scalarMatches(p, where: { $0 == replacement.value }, e) },
                                next: { sub, origin in run(k + 1, sub, origin, emit) })
                } else {
                    run(k + 1, buf, atOrigin, emit)
                }
            }
        case let .split(pattern, behavior, invert):
            switch pattern {
            case let .regex(splitter):
                if behavior == .isolated {
                    // Matches and the gaps between them, each a piece (inverting changes nothing here).
                    var prev = 0
                    splitter.matches(piece) { s, e in
                        if prev < s { run(k + 1, UnsafeBufferPointer(rebasing: piece[prev..<s]), atOrigin && prev == 0, emit) }
                        if s < e { run(k + 1, UnsafeBufferPointer(rebasing: piece[s..<e]), atOrigin && s == 0, emit) }
                        prev = e
                    }
                    if prev < piece.count {
                        run(k + 1, UnsafeBufferPointer(rebasing: piece[prev...]), atOrigin && prev == 0, emit)
                    }
                } else {
                    splitEvents(piece, behavior: behavior, invert: invert, atOrigin: atOrigin,
                                find: { p, e in splitter.matches(p, e) },
                                next: { sub, origin in run(k + 1, sub, origin, emit) })
                }
            case let .string(s):
                let pat = Array(s.utf8)
                splitEvents(piece, behavior: behavior, invert: invert, atOrigin: atOrigin,
                            find: { p, e in literalMatches(p, pat, e) },
                            next: { sub, origin in run(k + 1, sub, origin, emit) })
            }
        case let .digits(individual):
            splitEvents(piece, behavior: individual ? .isolated : .contiguous, invert: false, atOrigin: atOrigin,
                        find: { p, e in scalarMatches(p, where: { ScalarClass.of($0) & ScalarClass.number != 0 }, e) },
                        next: { sub, origin in run(k + 1, sub, origin, emit) })
        }
    }

    private func byteLevelSplit(_ k: Int, _ piece: UnsafeBufferPointer<UInt8>, _ atOrigin: Bool, _ useRegex: Bool,
                                _ emit: (UnsafeBufferPointer<UInt8>) -> Void) {
        if useRegex {
            RegexSplitter.gpt2Matches(piece) { s, e in
                run(k + 1, UnsafeBufferPointer(rebasing: piece[s..<e]), atOrigin && s == 0, emit)
            }
        } else {
            run(k + 1, piece, atOrigin, emit)
        }
    }
}

/// Matches of single scalars satisfying `predicate`.
@inline(__always)
func scalarMatches(_ p: UnsafeBufferPointer<UInt8>, where predicate: (UInt32) -> Bool, _ emit: (Int, Int) -> Void) {
    var i = 0
    while i < p.count {
        let (v, len) = decodeScalar(p, i)
        if predicate(v) { emit(i, i + len) }
        i += len
    }
}

/// Non-overlapping occurrences of a literal byte string, left to right.
func literalMatches(_ p: UnsafeBufferPointer<UInt8>, _ pattern: [UInt8], _ emit: (Int, Int) -> Void) {
    let m = pattern.count
    guard m > 0, p.count >= m else { return }
    var i = 0
    while i + m <= p.count {
        var match = true
        for k in 0..<m where p[i + k] != pattern[k] { match = false; break }
        if match { emit(i, i + m); i += m } else { i += 1 }
    }
}

/// HF `NormalizedString::split`: the pattern's matches and the gaps between them, combined per `behavior`;
/// empty pieces are dropped.
func splitEvents(_ piece: UnsafeBufferPointer<UInt8>, behavior: SplitBehavior, invert: Bool, atOrigin: Bool,
                 find: (UnsafeBufferPointer<UInt8>, (Int, Int) -> Void) -> Void,
                 next: (UnsafeBufferPointer<UInt8>, Bool) -> Void) {
    var events: [(Int, Int, Bool)] = []
    var prev = 0
    find(piece) { s, e in
        if prev != s { events.append((prev, s, false)) }
        events.append((s, e, true))
        prev = e
    }
    if prev != piece.count { events.append((prev, piece.count, false)) }
    if invert { events = events.map { ($0.0, $0.1, !$0.2) } }

    var pieces: [(Int, Int)] = []
    switch behavior {
    case .isolated:
        pieces = events.map { ($0.0, $0.1) }
    case .removed:
        pieces = events.filter { !$0.2 }.map { ($0.0, $0.1) }
    case .contiguous:
        var previousMatch = false
        for (s, e, isMatch) in events {
            if isMatch == previousMatch, !pieces.isEmpty {
                pieces[pieces.count - 1].1 = e
            } else {
                pieces.append((s, e))
            }
            previousMatch = isMatch
        }
    case .mergedWithPrevious:
        var previousMatch = false
        for (s, e, isMatch) in events {
            if isMatch && !previousMatch, !pieces.isEmpty {
                pieces[pieces.count - 1].1 = e
            } else {
                pieces.append((s, e))
            }
            previousMatch = isMatch
        }
    case .mergedWithNext:
        var previousMatch = false
        for (s, e, isMatch) in events.reversed() {
            if isMatch && !previousMatch, !pieces.isEmpty {
                pieces[pieces.count - 1].0 = s
            } else {
                pieces.append((s, e))
            }
            previousMatch = isMatch
        }
        pieces.reverse()
    }
    for (s, e) in pieces where s < e {
        next(UnsafeBufferPointer(rebasing: piece[s..<e]), atOrigin && s == 0)
    }
}
