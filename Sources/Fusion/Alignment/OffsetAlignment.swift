import Foundation

/// How a source's tokens are paired with the target's tokens of the same text.
public enum AlignmentMethod: String, Sendable, CaseIterable {
    /// The reference's dynamic time warping over token edit distances (`SequenceAlignment`).
    case dtw
    /// Byte spans: both tokenizations spell the same text, so positions whose spans coincide are paired exactly
    /// (tokenkit's ALM idea, without DTW's guesses on ties and shifted one-hots).
    case offsets
}

/// The exact alignment by byte spans: each token's span in the text is the running sum of its length in UTF-8
/// bytes (a unit that is a Unicode scalar counts its UTF-8 length, a raw byte 1, a special token such as EOS 0,
/// a SentencePiece '▁' left in an added whitespace token 1).
/// Target position t is paired with source position s when their spans coincide; a target span covered by
/// several source tokens, or by part of one, is paired with none (the aligner then writes its one-hot, as for a
/// DTW pairing that is not one-to-one). A SentencePiece dummy-prefix space that the other side does not have is
/// not counted. When the two spellings do not add up to the same number of bytes (a normaliser changed the text),
/// there is no exact alignment: `compute` returns nil and the caller uses DTW for that text.
public enum OffsetAlignment {
    public static func compute(sourceTokens: [Int32], targetTokens: [Int32], source: NormalizedVocabulary,
                               target: NormalizedVocabulary) -> SequenceAlignment? {
        var a = spans(sourceTokens, source), b = spans(targetTokens, target)
        // A dummy-prefix space on one side only.
        if let sa = a.ends.last, let sb = b.ends.last, sa != sb {
            if sa == sb + 1, startsWithSpace(sourceTokens, source), !startsWithSpace(targetTokens, target) {
                a = a.droppingFirstByte()
            } else if sb == sa + 1, startsWithSpace(targetTokens, target), !startsWithSpace(sourceTokens, source) {
                b = b.droppingFirstByte()
            }
        }
        guard a.ends.last ?? 0 == b.ends.last ?? 0 else { return nil }
        var pairs = [Range<Int>](repeating: 0..<0, count: targetTokens.count)
        var unpaired = 0
        var s = 0
        for t in 0..<targetTokens.count {
            let (start, end) = (b.starts[t], b.ends[t])
            // Source tokens ending at or before this span's start cannot pair with it (spans only move right).
            while s < sourceTokens.count && (a.ends[s] < start || (a.ends[s] == start && a.starts[s] < start)) { s += 1 }
            if s < sourceTokens.count && a.starts[s] == start && a.ends[s] == end {
                pairs[t] = s..<(s + 1)
                s += 1
            } else {
                unpaired += 1
            }
        }
        return SequenceAlignment(sources: pairs, cost: unpaired)
    }

    struct Spans {
        var starts: [Int]
        var ends: [Int]

        /// The same spans with the text's first byte (a dummy-prefix space) not counted.
        func droppingFirstByte() -> Spans {
            Spans(starts: starts.map { max(0, $0 - 1) }, ends: ends.map { max(0, $0 - 1) })
        }
    }

    static func spans(_ tokens: [Int32], _ vocabulary: NormalizedVocabulary) -> Spans {
        var starts: [Int] = [], ends: [Int] = []
        starts.reserveCapacity(tokens.count)
        ends.reserveCapacity(tokens.count)
        var position = 0
        for id in tokens {
            starts.append(position)
            if vocabulary.kind(of: id) != .special {
                for u in vocabulary.units(of: id) { position += byteLength(u, vocabulary.spelling) }
            }
            ends.append(position)
        }
        return Spans(starts: starts, ends: ends)
    }

    /// A unit's length in the text's UTF-8 bytes. SentencePiece's added whitespace tokens (Gemma's "▁▁▁") keep
    /// their literal '▁' in the normalised vocabulary but stand for spaces.
    static func byteLength(_ unit: UInt32, _ spelling: TokenSpelling) -> Int {
        if unit == 0x2581 && spelling == .characters { return 1 }
        switch unit {
        case NormalizedVocabulary.rawByteBase...: return 1
        case ..<0x80: return 1
        case ..<0x800: return 2
        case ..<0x10000: return 3
        default: return 4
        }
    }

    static func startsWithSpace(_ tokens: [Int32], _ vocabulary: NormalizedVocabulary) -> Bool {
        guard let first = tokens.first(where: { vocabulary.kind(of: $0) != .special }) else { return false }
        return vocabulary.units(of: first).first == NormalizedVocabulary.space
    }
}
