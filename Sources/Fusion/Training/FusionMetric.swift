import Foundation

/// How MinCE and AvgCE score a source on a block. The reference compares each source's mean cross-entropy per
/// token of its own tokenization, although sources cut the same text into different numbers of tokens: a source
/// with coarser tokens spends more nats per token on the same text and looks worse than it is. Bits per byte
/// divides each text's total loss by the text's bytes, which are the same for every source.
public enum FusionMetric: String, Sendable, CaseIterable {
    /// The reference's rule: the text's mean next-token cross-entropy (nats per source token).
    case ce
    /// The text's total next-token loss in bits over its UTF-8 bytes (the first token, which nobody predicts, is
    /// counted in the bytes: a bias of a few bytes per text, the same order for every source).
    case bitsPerByte = "bits-per-byte"

    /// A text's score from its dumped loss and (bits per byte) its length in bytes.
    func score(_ text: TeacherText, bytes: () throws -> Int) rethrows -> Double {
        switch self {
        case .ce: return text.ce
        case .bitsPerByte:
            let n = try bytes()
            return n > 0 ? text.ceSum / log(2) / Double(n) : 0
        }
    }
}
