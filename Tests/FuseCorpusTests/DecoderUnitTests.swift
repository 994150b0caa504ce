@testable import FuseCorpus
import FuseFormats
import XCTest

/// The small decoders under the parquet reader, on hand-made input.
final class DecoderUnitTests: XCTestCase {
    func snappy(_ data: [UInt8], _ size: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        try data.withUnsafeBytes { src in try out.withUnsafeMutableBytes { try Snappy.decompress(src, into: $0) } }
        return out
    }

    func testSnappy() throws {
        // "ab" then a copy of 8 at offset 2 (overlapping), then a 1-byte literal.
        XCTAssertEqual(try snappy([11, 0x04, 0x61, 0x62, 0x11, 0x02, 0x00, 0x7A], 11), Array("ababababab".utf8) + [0x7A])
        // Offset-1 run (pattern of one byte) across 64 bytes via a 2-byte-offset copy.
        XCTAssertEqual(try snappy([65, 0x00, 0x78, 0xFE, 0x01, 0x00], 65), [UInt8](repeating: 0x78, count: 65))
        // A literal with a 1-byte extra length (60 → 61 bytes).
        let lit = [UInt8](repeating: 0x41, count: 61)
        XCTAssertEqual(try snappy([61, 60 << 2, 60] + lit, 61), lit)
        for (bad, size, why) in [
            ([5, 0x08, 0x61], 5, "literal runs past the end"),
            ([4, 0x04, 0x61, 0x62, 0x11, 0x03], 4, "copy offset 3 outside"),
            ([4, 0x10, 0x61, 0x62, 0x63, 0x64, 0x65], 4, "literal runs past the uncompressed length"),
            ([6, 0x04, 0x61, 0x62], 6, "data ends after 2 of 6 bytes"),
            ([3, 0x04, 0x61, 0x62], 4, "data says 3 bytes"),
            ([0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 1, "preamble"),
            ([4, 0x04, 0x61, 0x62, 0x02], 4, "truncated copy"),
        ] as [([UInt8], Int, String)] {
            XCTAssertThrowsError(try snappy(bad, size), why) {
                XCTAssertTrue(($0 as? Snappy.Failure)?.message.contains(why) == true, "\($0) vs \(why)")
            }
        }
    }

    func rle(_ data: [UInt8], width: Int, count: Int) throws -> [UInt32] {
        var out: [UInt32] = []
        try data.withUnsafeBytes { try RLEHybrid.decode($0, bitWidth: width, count: count, into: &out) }
        return out
    }

    func testRLEHybrid() throws {
        // RLE run of 5 × 1 (bit width 1), then a bit-packed group of 8: 1,0,1,1,0,0,0,1.
        XCTAssertEqual(try rle([5 << 1, 1, 1 << 1 | 1, 0b1000_1101], width: 1, count: 13),
                       [1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 1])
        // Width 3, bit-packed 0...7 (the spec's example bytes), only 6 wanted.
        XCTAssertEqual(try rle([0x03, 0x88, 0xC6, 0xFA], width: 3, count: 6), [0, 1, 2, 3, 4, 5])
        // Width 10 RLE value in two bytes.
        XCTAssertEqual(try rle([3 << 1, 0xFF, 0x03], width: 10, count: 3), [1023, 1023, 1023])
        XCTAssertThrowsError(try rle([2 << 1, 1], width: 1, count: 3))           // runs out
        XCTAssertThrowsError(try rle([2 << 1, 2], width: 1, count: 2))           // value wider than 1 bit
        XCTAssertThrowsError(try rle([1 << 1 | 1, 0xFF], width: 3, count: 8))   // packed run cut short
        XCTAssertThrowsError(try rle([], width: 33, count: 1))
        XCTAssertEqual(try rle([50 << 1], width: 0, count: 4), [0, 0, 0, 0])
    }

    func testThriftSkipsUnknownFieldsByType() throws {
        // A hand-checked struct: field 1 = 7, an unknown list<struct{bool, map}> at 20, field 21 = "x".
        var v = ThriftWriter()
        v.beginStruct()
        v.i32(1, 7)
        v.field(20, 9); v.listHeader(2, 12)
        v.beginStruct(); v.field(1, 1); v.field(2, 11); v.varint(1); v.bytes.append(0x58); v.zigzag(-3); v.rawBinary("k"); v.endStruct()
        v.beginStruct(); v.field(5, 2); v.endStruct()
        v.binary(21, "x")
        v.endStruct()
        var seen: [Int16: String] = [:]
        try v.bytes.withUnsafeBytes { raw in
            var r = ThriftReader(raw)
            try r.readStruct { r, id, type in
                switch (id, type) {
                case (1, .i32): seen[1] = "\(try r.i32())"
                case (21, .binary): seen[21] = try r.string()
                default: try r.skip(type)
                }
            }
            XCTAssertEqual(r.position, raw.count)
        }
        XCTAssertEqual(seen, [1: "7", 21: "x"])
        // Truncation and nesting bombs are errors, not crashes.
        for cut in 1..<v.bytes.count {
            let prefix = Array(v.bytes[..<cut])
            XCTAssertThrowsError(try prefix.withUnsafeBytes { raw in
                var r = ThriftReader(raw)
                try r.readStruct { r, _, t in try r.skip(t) }
            })
        }
        let deep = [UInt8](repeating: 0x1C, count: 10_000)  // field 1, struct, nested forever
        XCTAssertThrowsError(try deep.withUnsafeBytes { raw in
            var r = ThriftReader(raw)
            try r.readStruct { r, _, t in try r.skip(t) }
        }) { XCTAssertEqual($0 as? ThriftError, .invalid("structures nested deeper than 64")) }
    }

    func testUTF8Validation() {
        let valid: [[UInt8]] = [[], Array("ascii only, longer than eight bytes".utf8), Array("é中😀".utf8),
                                [0xF4, 0x8F, 0xBF, 0xBF], [0xED, 0x9F, 0xBF]]
        let invalid: [([UInt8], Int)] = [([0x61, 0x80], 1), ([0xC0, 0x80], 0), ([0xE0, 0x80, 0x80], 0),
                                         ([0xED, 0xA0, 0x80], 0), ([0xF4, 0x90, 0x80, 0x80], 0),
                                         ([0xF5, 0x80, 0x80, 0x80], 0), ([0x61, 0x62, 0xE4, 0xB8], 2),
                                         (Array("12345678".utf8) + [0xFF], 8)]
        for v in valid {
            v.withUnsafeBytes {
                XCTAssertNil(UTF8Text.firstInvalidOffset($0))
                XCTAssertEqual(UTF8Text.string($0).map { Array($0.utf8) }, v)
            }
        }
        for (v, at) in invalid {
            v.withUnsafeBytes {
                XCTAssertEqual(UTF8Text.firstInvalidOffset($0), at, "\(v)")
                XCTAssertNil(UTF8Text.string($0), "\(v)")
            }
        }
    }

    func testGzip() throws {
        // "hello hello hello\n" as `gzip -9 -n` writes it (fixed Huffman codes with a back-reference).
        let gz: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xCB, 0x48, 0xCD, 0xC9, 0xC9,
                           0x57, 0xC8, 0x40, 0x90, 0x5C, 0x00, 0x3B, 0x7C, 0x8A, 0xDF, 0x12, 0x00, 0x00, 0x00]
        var out = [UInt8](repeating: 0, count: 18)
        try gz.withUnsafeBytes { src in try out.withUnsafeMutableBytes { try Inflate.gunzip(src, into: $0) } }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "hello hello hello\n")
        var bad = gz
        bad[bad.count - 8] ^= 1  // CRC
        XCTAssertThrowsError(try bad.withUnsafeBytes { src in try out.withUnsafeMutableBytes { try Inflate.gunzip(src, into: $0) } }) {
            XCTAssertEqual(($0 as? Inflate.Failure)?.message, "gzip CRC-32 mismatch")
        }
        var short = [UInt8](repeating: 0, count: 10)
        XCTAssertThrowsError(try gz.withUnsafeBytes { src in try short.withUnsafeMutableBytes { try Inflate.gunzip(src, into: $0) } })
        XCTAssertThrowsError(try Array(gz.prefix(20)).withUnsafeBytes { src in try out.withUnsafeMutableBytes { try Inflate.gunzip(src, into: $0) } })
    }
}
