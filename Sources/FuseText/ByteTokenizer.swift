import Foundation

/// A stand-in tokenizer: one token per UTF-8 byte (ids 0…255). Real tokenizers read from
/// tokenizer.json / GGUF take its place for pretrained models.
public struct ByteTokenizer: TextTokenizer {
    public init() {}
    public let vocabSize = 256

    public func encode(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } }

    public func decode(_ ids: [Int32]) -> String {
        String(decoding: ids.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
    }

    public func tokenString(_ id: Int32) -> String? {
        (0..<256).contains(id) ? String(format: "<0x%02X>", Int(id)) : nil
    }

    public var bosTokenID: Int32? { nil }
    public var eosTokenID: Int32? { nil }
}
