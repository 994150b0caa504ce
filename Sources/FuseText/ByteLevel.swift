/// GPT-2's reversible byte ↔ character map (`bytes_to_unicode`): printable bytes stand for themselves, the other
/// 68 bytes (controls, space, 0x7F–0xA0, 0xAD) take U+0100… in byte order. Byte-level BPE vocabularies spell
/// every token in this alphabet ("Ġ" is a space, "Ċ" a newline).
enum ByteLevelAlphabet {
    /// Unicode scalar value standing for each byte.
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = 256 + n
                n += 1
            }
        }
        return table
    }()

    /// The byte a scalar stands for, or nil when the scalar is outside the alphabet (scalars < 0x144).
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in scalarOfByte.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    @inline(__always)
    static func byte(of scalar: UInt32) -> UInt8? {
        guard scalar < 0x144 else { return nil }
        let b = byteOfScalar[Int(scalar)]
        return b < 0 ? nil : UInt8(b)
    }

    /// UTF-8 of the byte-level spelling of `bytes` ("Ġthe" for " the").
    static func spell(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        for b in bytes { appendUTF8(scalarOfByte[Int(b)], to: &out) }
        return out
    }

    static func spell(_ text: String) -> String {
        String(decoding: spell(text.utf8), as: UTF8.self)
    }

    /// The bytes a token spelled in the alphabet stands for; nil when a character is outside it.
    static func unspell(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            guard let b = byte(of: s.value) else { return nil }
            out.append(b)
        }
        return out
    }

    static func isSpelled(_ token: String) -> Bool {
        token.unicodeScalars.allSatisfy { byte(of: $0.value) != nil }
    }
}
