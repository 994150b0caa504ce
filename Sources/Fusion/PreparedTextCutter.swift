import FuseText

/// The reference's rule for long documents (DESIGN.md): a document longer than `maxTextTokens` under any of
/// the tokenizers involved (the target's and the sources') is cut into pieces of `maxTextTokens` tokens by
/// the tokenizer that gives it the most tokens, and each piece is decoded back to text, so every model sees
/// the same texts. Then:
///
/// - lengths are counted without EOS; ties go to the target (it is first);
/// - every text's target tokens are the target's encoding of the text, and EOS is appended to the last
///   piece of each document only (no BOS anywhere). A piece re-encoded by another tokenizer may come out a
///   little longer than `maxTextTokens`, as in the reference;
/// - decoding a piece is lossy where the cut falls inside a character (byte-level pieces decode to U+FFFD)
///   or before a SentencePiece word marker (the piece's leading space is dropped): that is what the
///   reference's `tokenizer.decode` does too;
/// - a non-final piece that decodes to an empty string is dropped; an empty document is skipped by the caller.
struct PreparedTextCutter: Sendable {
    let target: BPETokenizer
    let also: [BPETokenizer]
    let maxTextTokens: Int
    let eos: Int32

    struct Piece {
        var text: String
        var targetTokens: [Int32]
        var endsDocument: Bool
    }

    func cut(_ text: String) -> [Piece] {
        let targetIDs = target.encode(text)
        var longest = targetIDs, cutter = target
        for t in also {
            let ids = t.encode(text)
            if ids.count > longest.count {
                longest = ids
                cutter = t
            }
        }
        guard longest.count > maxTextTokens else {
            return [Piece(text: text, targetTokens: targetIDs + [eos], endsDocument: true)]
        }
        var pieces: [Piece] = []
        var start = 0
        while start < longest.count {
            let end = min(start + maxTextTokens, longest.count)
            let last = end == longest.count
            let piece = cutter.decode(Array(longest[start..<end]))
            if !piece.isEmpty || last {
                // Re-encoded even when the target cut it: a text's tokens are always the encoding of its text,
                // which is what every model (the target's own dump included) sees.
                var ids = target.encode(piece)
                if last { ids.append(eos) }
                pieces.append(Piece(text: piece, targetTokens: ids, endsDocument: last))
            }
            start = end
        }
        return pieces
    }
}
