/// Strict UTF-8 to `String`: nil when the bytes are not valid UTF-8 (overlong forms,
/// surrogates, code points past U+10FFFF and cut sequences are all refused), where
/// `String(decoding:as:)` would silently put U+FFFD in their place.
enum UTF8Text {
    static func string(_ bytes: UnsafeRawBufferPointer) -> String? {
        if #available(macOS 15, iOS 18, tvOS 18, watchOS 11, visionOS 2, *) {
            // One pass: the standard library validates while it copies.
            return String(validating: bytes, as: UTF8.self)
        }
        guard isValid(bytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Byte offset of the first invalid sequence, or nil when all of `bytes` is valid.
    static func firstInvalidOffset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let n = bytes.count
        guard n > 0 else { return nil }
        let p = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var i = 0
        while i < n {
            // ASCII fast path, 8 bytes at a time.
            while i + 8 <= n {
                let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            guard i < n else { break }
            let b0 = p[i]
            if b0 < 0x80 { i += 1; continue }
            let length: Int
            var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: return i
            }
            guard i + length <= n else { return i }
            let b1 = p[i + 1]
            guard b1 >= lower && b1 <= upper else { return i }
            for k in 2..<max(2, length) where p[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return nil
    }

    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool { firstInvalidOffset(bytes) == nil }
}
