/// A token string compared and hashed by its UTF-8 bytes. Swift's `String ==` treats canonically equivalent
/// strings as equal ("Å" U+00C5 and "Å" U+212B), but a vocabulary holds both as different tokens, as the
/// Python libraries (comparing code points or bytes) do.
struct TokenKey: Hashable, Sendable {
    let utf8: [UInt8]
    init(_ s: String) { utf8 = Array(s.utf8) }
    var string: String { String(decoding: utf8, as: UTF8.self) }
}

extension Dictionary where Key == TokenKey {
    subscript(_ token: String) -> Value? {
        get { self[TokenKey(token)] }
        set { self[TokenKey(token)] = newValue }
    }

    @discardableResult
    mutating func updateValue(_ value: Value, forToken token: String) -> Value? {
        updateValue(value, forKey: TokenKey(token))
    }
}

/// Byte equality of strings (no canonical equivalence).
@inline(__always)
func sameBytes(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }
