import Foundation

/// A stand-in tokenizer: one token per UTF-8 byte (ids 0…255). Real tokenizers read from
/// tokenizer.json / GGUF take its place for pretrained models.
public struct ByteTokenizer: Sendable {
    public init() {}
    public let vocabSize = 256

    public func encode(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } }

    public func decode(_ ids: [Int32]) -> String {
        String(decoding: ids.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
    }
}
