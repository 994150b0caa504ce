import Foundation

/// Puts one source's distributions over one prepared text onto the target's tokens of the same text
/// (sequence alignment + vocabulary mapping). Rows follow the target tokens: row t predicts target token t+1.
public protocol TextAligner: Sendable {
    func align(_ teacher: TeacherText, targetTokens: [Int32]) throws -> AlignedDistributions
}

/// The target model's own dump: same tokens, same vocabulary, nothing to align.
public struct IdentityAligner: TextAligner {
    public init() {}

    public func align(_ teacher: TeacherText, targetTokens: [Int32]) throws -> AlignedDistributions {
        guard teacher.tokens == targetTokens else {
            throw FusionError("text \(teacher.textID): the dump's tokens differ from the target's tokens of the text "
                              + "(\(teacher.tokens.count) vs \(targetTokens.count)); was it made with the target's tokenizer?")
        }
        return AlignedDistributions(positions: targetTokens.count, width: teacher.k, ids: teacher.topIDs,
                                    logits: teacher.topLogProbs)
    }
}
