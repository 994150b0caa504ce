/// Gzip (RFC 1952) around raw deflate (RFC 1951), as parquet's GZIP codec stores pages. A small
/// canonical-Huffman decoder in the manner of zlib's `puff`: every read is checked against the
/// input, every write and back-reference against the fixed-size output, and the gzip trailer's
/// CRC-32 and length must match. Slower than zlib, but GZIP pages are rare in corpora.
enum Inflate {
    struct Failure: Error { let message: String }

    /// Decompresses one or more gzip members from `input` into `output`, which they must fill exactly.
    static func gunzip(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        var state = State(input: input, output: output)
        repeat {
            try state.member()
        } while state.inPos < input.count
        guard state.outPos == output.count else {
            throw Failure(message: "data ends after \(state.outPos) of \(output.count) bytes")
        }
    }

    private static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                            67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
                                             5, 5, 5, 5, 0]
    private static let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513,
                                          769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    private static let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10,
                                           11, 11, 12, 12, 13, 13]
    private static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        crcTable.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }

    /// Canonical Huffman code: symbol counts per length and symbols in code order.
    private struct Huffman {
        var count = [Int](repeating: 0, count: 16)
        var symbol: [Int]

        init(lengths: ArraySlice<Int>) throws {
            symbol = [Int](repeating: 0, count: lengths.count)
            for l in lengths { count[l] += 1 }
            if count[0] == lengths.count { return }  // no codes: decoding will fail if used
            var left = 1
            for len in 1..<16 {
                left <<= 1
                left -= count[len]
                if left < 0 { throw Failure(message: "over-subscribed Huffman code") }
            }
            var offs = [Int](repeating: 0, count: 16)
            for len in 1..<15 { offs[len + 1] = offs[len] + count[len] }
            for (k, l) in lengths.enumerated() where l != 0 {
                symbol[offs[l]] = k
                offs[l] += 1
            }
        }
    }

    private struct State {
        let input: UnsafeRawBufferPointer
        let output: UnsafeMutableRawBufferPointer
        var inPos = 0
        var outPos = 0
        var bitBuffer = 0
        var bitCount = 0

        init(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) {
            self.input = input
            self.output = output
        }

        mutating func byte() throws -> Int {
            guard inPos < input.count else { throw Failure(message: "compressed data ends early") }
            defer { inPos += 1 }
            return Int(input[inPos])
        }

        mutating func bits(_ n: Int) throws -> Int {
            var v = bitBuffer
            while bitCount < n {
                v |= try byte() << bitCount
                bitCount += 8
            }
            bitBuffer = v >> n
            bitCount -= n
            return v & ((1 << n) - 1)
        }

        mutating func member() throws {
            guard try byte() == 0x1F, try byte() == 0x8B else { throw Failure(message: "not gzip data (bad magic)") }
            guard try byte() == 8 else { throw Failure(message: "gzip compression method is not deflate") }
            let flags = try byte()
            for _ in 0..<6 { _ = try byte() }  // mtime, xfl, os
            if flags & 4 != 0 {  // FEXTRA
                let n = try byte() | (try byte()) << 8
                for _ in 0..<n { _ = try byte() }
            }
            if flags & 8 != 0 { while try byte() != 0 {} }   // FNAME
            if flags & 16 != 0 { while try byte() != 0 {} }  // FCOMMENT
            if flags & 2 != 0 { _ = try byte(); _ = try byte() }  // FHCRC
            let start = outPos
            var last = 0
            repeat {
                last = try bits(1)
                switch try bits(2) {
                case 0: try stored()
                case 1: try fixed()
                case 2: try dynamic()
                default: throw Failure(message: "invalid deflate block type")
                }
            } while last == 0
            bitBuffer = 0
            bitCount = 0
            var crc = 0, size = 0
            for k in 0..<4 { crc |= try byte() << (8 * k) }
            for k in 0..<4 { size |= try byte() << (8 * k) }
            let written = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(output)[start..<outPos])
            guard UInt32(crc) == Inflate.crc32(written) else { throw Failure(message: "gzip CRC-32 mismatch") }
            guard size == (outPos - start) & 0xFFFF_FFFF else { throw Failure(message: "gzip length mismatch") }
        }

        mutating func stored() throws {
            bitBuffer = 0
            bitCount = 0
            let len = try byte() | (try byte()) << 8
            let nlen = try byte() | (try byte()) << 8
            guard len == ~nlen & 0xFFFF else { throw Failure(message: "stored block length check failed") }
            guard input.count - inPos >= len else { throw Failure(message: "stored block runs past the data") }
            guard output.count - outPos >= len else { throw Failure(message: "output longer than the page header says") }
            for k in 0..<len { output[outPos + k] = input[inPos + k] }
            inPos += len
            outPos += len
        }

        mutating func decode(_ h: Huffman) throws -> Int {
            var code = 0, first = 0, index = 0
            for len in 1..<16 {
                code |= try bits(1)
                let count = h.count[len]
                if code - count < first { return h.symbol[index + (code - first)] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw Failure(message: "invalid Huffman code")
        }

        mutating func codes(_ lit: Huffman, _ dist: Huffman) throws {
            while true {
                let symbol = try decode(lit)
                if symbol < 256 {
                    guard outPos < output.count else { throw Failure(message: "output longer than the page header says") }
                    output[outPos] = UInt8(symbol)
                    outPos += 1
                } else if symbol == 256 {
                    return
                } else {
                    let s = symbol - 257
                    guard s < 29 else { throw Failure(message: "invalid length symbol") }
                    let length = Inflate.lengthBase[s] + (try bits(Inflate.lengthExtra[s]))
                    let d = try decode(dist)
                    guard d < 30 else { throw Failure(message: "invalid distance symbol") }
                    let distance = Inflate.distBase[d] + (try bits(Inflate.distExtra[d]))
                    guard distance <= outPos else { throw Failure(message: "distance \(distance) before the output start") }
                    guard output.count - outPos >= length else { throw Failure(message: "output longer than the page header says") }
                    for k in 0..<length { output[outPos + k] = output[outPos + k - distance] }
                    outPos += length
                }
            }
        }

        mutating func fixed() throws {
            var lengths = [Int](repeating: 8, count: 288)
            for k in 144..<256 { lengths[k] = 9 }
            for k in 256..<280 { lengths[k] = 7 }
            let lit = try Huffman(lengths: lengths[...])
            let dist = try Huffman(lengths: [Int](repeating: 5, count: 30)[...])
            try codes(lit, dist)
        }

        mutating func dynamic() throws {
            let nlen = try bits(5) + 257, ndist = try bits(5) + 1, ncode = try bits(4) + 4
            guard nlen <= 286, ndist <= 30 else { throw Failure(message: "bad dynamic block counts") }
            var lengths = [Int](repeating: 0, count: 320)
            for k in 0..<ncode { lengths[Inflate.codeLengthOrder[k]] = try bits(3) }
            let lencode = try Huffman(lengths: lengths[0..<19])
            var index = 0
            while index < nlen + ndist {
                var symbol = try decode(lencode)
                if symbol < 16 {
                    lengths[index] = symbol
                    index += 1
                } else {
                    var len = 0
                    if symbol == 16 {
                        guard index > 0 else { throw Failure(message: "repeat with no previous length") }
                        len = lengths[index - 1]
                        symbol = 3 + (try bits(2))
                    } else if symbol == 17 {
                        symbol = 3 + (try bits(3))
                    } else {
                        symbol = 11 + (try bits(7))
                    }
                    guard index + symbol <= nlen + ndist else { throw Failure(message: "too many code lengths") }
                    for _ in 0..<symbol { lengths[index] = len; index += 1 }
                }
            }
            guard lengths[256] != 0 else { throw Failure(message: "no end-of-block code") }
            let lit = try Huffman(lengths: lengths[0..<nlen])
            let dist = try Huffman(lengths: lengths[nlen..<(nlen + ndist)])
            try codes(lit, dist)
        }
    }
}
