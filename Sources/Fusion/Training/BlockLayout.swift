/// Where a training block's tokens come from: blocks are cut from the concatenated target tokens of the
/// prepared texts, so a block covers a run of whole or partial texts.
public protocol BlockLayout {
    var blockSize: Int { get }
    var blockCount: Int { get }
    var textCount: Int { get }
    /// The texts a block covers, in order, each with the range of its target tokens that falls in the block.
    func spans(ofBlock block: Int) throws -> [(text: Int, tokens: Range<Int>)]
    /// The target tokens of a text (EOS included where the text ends a document).
    func targetTokens(ofText text: Int) throws -> [Int32]
    /// The text's length in UTF-8 bytes (what `FusionMetric.bitsPerByte` divides by).
    func byteCount(ofText text: Int) throws -> Int
}
