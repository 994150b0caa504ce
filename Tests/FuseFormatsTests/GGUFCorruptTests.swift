import FuseFormats
import Foundation
import FuseTensor
import XCTest
import TestSupport

/// Bad input: variants of the fixture with bytes cut or edited, and small hand-made files. Every case
/// must give one FormatError naming the file and the field or tensor, never a crash or a hang.
final class GGUFCorruptTests: XCTestCase {
    let dir = temporaryDirectory("gguf")

    var fixture: [UInt8] { get throws { [UInt8](try Data(contentsOf: Fixtures.gguf("types.gguf"))) } }

    func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// Offset of the first length-prefixed occurrence of `string` (its u64 length), and the offset just after it.
    func locate(_ string: String, in bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> (start: Int, end: Int) {
        var needle = withUnsafeBytes(of: UInt64(string.utf8.count).littleEndian) { [UInt8]($0) }
        needle += Array(string.utf8)
        guard bytes.count >= needle.count else { XCTFail("\(string) not found", file: file, line: line); return (0, 0) }
        for i in 0...(bytes.count - needle.count) where bytes[i] == needle[0] && Array(bytes[i..<(i + needle.count)]) == needle {
            return (i, i + needle.count)
        }
        XCTFail("\(string) not found", file: file, line: line)
        return (0, 0)
    }

    func put32(_ v: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }

    func put64(_ v: UInt64, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }

    /// Where a tensor info's fields start: n_dims, the dims, type and offset.
    func tensorFields(_ name: String, in bytes: [UInt8], dims: Int) -> (nDims: Int, dims: Int, type: Int, offset: Int) {
        let p = locate(name, in: bytes).end
        return (p, p + 4, p + 4 + 8 * dims, p + 8 + 8 * dims)
    }

    func expectError(_ bytes: [UInt8], _ name: String, _ fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try write(bytes, name)
        assertGGUFError(try GGUFFile(url: url), contains: [name] + fragments, file: file, line: line)
    }

    // MARK: header

    func testMissingFile() {
        assertGGUFError(try GGUFFile(url: dir.appendingPathComponent("absent.gguf")), contains: ["absent.gguf", "cannot read"])
    }

    func testBadMagic() throws {
        var b = try fixture
        b[0] = UInt8(ascii: "X")
        try expectError(b, "magic.gguf", ["header", "bad magic", "not a GGUF file"])
        try expectError([], "empty.gguf", ["header", "truncated", "magic"])
        let safetensors = [UInt8](try Data(contentsOf: Fixtures.gguf("types-expected.safetensors")))
        try expectError(safetensors, "not-gguf.gguf", ["header", "bad magic"])
    }

    func testVersions() throws {
        var b = try fixture
        put32(1, at: 4, in: &b)
        try expectError(b, "v1.gguf", ["header", "unsupported GGUF version 1"])
        put32(99, at: 4, in: &b)
        try expectError(b, "v99.gguf", ["header", "unsupported GGUF version 99", "versions 2 and 3"])
        put32(UInt32(3).byteSwapped, at: 4, in: &b)
        try expectError(b, "big-endian.gguf", ["header", "big-endian"])
        // Version 2 has the same layout for little-endian files.
        put32(2, at: 4, in: &b)
        let v2 = try GGUFFile(url: try write(b, "v2.gguf"))
        let v3 = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        XCTAssertEqual(v2.version, 2)
        XCTAssertEqual(v2.metadataKeys, v3.metadataKeys)
        XCTAssertEqual(try v2.dequantize("q4_k"), try v3.dequantize("q4_k"))
    }

    func testTruncatedHeader() throws {
        let b = try fixture
        try expectError(Array(b[0..<6]), "short.gguf", ["header", "truncated", "version"])
        try expectError(Array(b[0..<12]), "short.gguf", ["header", "truncated", "tensor count"])
        try expectError(Array(b[0..<20]), "short.gguf", ["header", "truncated", "metadata count"])
    }

    func testHugeCountsAreRefusedBeforeAllocating() throws {
        var b = try fixture
        put64(1 << 40, at: 8, in: &b)
        try expectError(b, "tensors.gguf", ["header", "tensor count 1099511627776 cannot fit"])
        b = try fixture
        put64(UInt64.max, at: 16, in: &b)
        try expectError(b, "kv.gguf", ["header", "metadata count", "too large"])
        b = try fixture
        put64(1 << 50, at: 16, in: &b)
        try expectError(b, "kv.gguf", ["header", "metadata count 1125899906842624 cannot fit"])
    }

    // MARK: metadata

    func testTruncatedMetadataNamesTheKey() throws {
        let b = try fixture
        let key = locate("test.array.string", in: b)
        try expectError(Array(b[0..<(key.end + 20)]), "cut.gguf", ["metadata key test.array.string", "truncated"])
        try expectError(Array(b[0..<(key.start + 10)]), "cut.gguf", ["metadata entry 29 of 33", "runs past the end"])
        let float = locate("test.float64", in: b)
        try expectError(Array(b[0..<(float.end + 4 + 3)]), "cut.gguf", ["metadata key test.float64", "truncated", "FLOAT64 value needs 8 bytes"])
    }

    func testCorruptLengthsDoNotAllocate() throws {
        var b = try fixture
        let key = locate("test.string", in: b)
        put64(1 << 40, at: key.end + 4, in: &b)     // the string value's length
        try expectError(b, "string.gguf", ["metadata key test.string", "string length 1099511627776 runs past the end"])
        put64(UInt64.max - 3, at: key.end + 4, in: &b)
        try expectError(b, "string.gguf", ["metadata key test.string", "too large"])
        b = try fixture
        put64(1 << 61, at: locate("test.uint8", in: b).start, in: &b)   // a key's length
        try expectError(b, "key.gguf", ["metadata entry 2 of 33", "key length", "runs past the end"])
        b = try fixture
        let array = locate("test.array.string", in: b)
        put64(1 << 50, at: array.end + 8, in: &b)   // after the value type and element type
        try expectError(b, "array.gguf", ["metadata key test.array.string", "array of 1125899906842624 STRING values cannot fit"])
        b = try fixture
        let nested = locate("test.array.nested", in: b)
        put64(UInt64(Int.max), at: nested.end + 8, in: &b)
        try expectError(b, "array.gguf", ["metadata key test.array.nested", "ARRAY values cannot fit"])
    }

    func testUnknownValueTypes() throws {
        var b = try fixture
        let key = locate("test.uint8", in: b)
        put32(13, at: key.end, in: &b)
        try expectError(b, "type.gguf", ["metadata key test.uint8", "unknown metadata value type 13"])
        b = try fixture
        let array = locate("test.array.int8", in: b)
        put32(0xFFFF_FFFF, at: array.end + 4, in: &b)
        try expectError(b, "type.gguf", ["metadata key test.array.int8", "unknown array element type 4294967295"])
    }

    func testDuplicateKeysAndTensors() throws {
        var b = try fixture
        let key = locate("test.int16", in: b)
        b.replaceSubrange((key.start + 8)..<key.end, with: Array("test.int32".utf8))
        try expectError(b, "dup.gguf", ["metadata key test.int32", "appears twice"])
        b = try fixture
        let tensor = locate("f16", in: b)
        b.replaceSubrange((tensor.start + 8)..<tensor.end, with: Array("f32".utf8))
        try expectError(b, "dup.gguf", ["tensor f32", "appears twice"])
    }

    func testBadAlignment() throws {
        var b = try fixture
        let key = locate("general.alignment", in: b)
        put32(48, at: key.end + 4, in: &b)
        try expectError(b, "align.gguf", ["metadata key general.alignment", "UINT32 48", "power of two"])
        put32(0, at: key.end + 4, in: &b)
        try expectError(b, "align.gguf", ["metadata key general.alignment", "power of two"])
    }

    func testDeeplyNestedArraysAreRefused() throws {
        var g = HandMade()
        g.header(tensors: 0, kvs: 1)
        g.string("deep")
        g.u32(9)
        for _ in 0..<10_000 { g.u32(9); g.u64(1) }
        g.u32(0); g.u64(0)
        try expectError(g.bytes, "deep.gguf", ["metadata key deep", "nest deeper than 16"])
    }

    // MARK: tensor infos

    func testTensorDataPastTheEnd() throws {
        let b = try fixture
        let f = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        let big = try f.tensor("q8_0.big")
        try expectError(Array(b[0..<(f.dataOffset + big.offset + 100)]), "cut.gguf",
                        ["tensor q8_0.big", "runs past the end of the file"])
        // Cut inside the tensor infos: the truncated field is named.
        let info = locate("q5_1", in: b)
        try expectError(Array(b[0..<(info.end + 6)]), "cut.gguf", ["tensor q5_1", "truncated", "dimension 0"])
        var edited = b
        put64(1 << 62, at: tensorFields("q6_k", in: b, dims: 2).offset, in: &edited)
        try expectError(edited, "offset.gguf", ["tensor q6_k", "runs past the end"])
        put64(UInt64.max, at: tensorFields("q6_k", in: b, dims: 2).offset, in: &edited)
        try expectError(edited, "offset.gguf", ["tensor q6_k", "data offset 18446744073709551615 is too large"])
    }

    func testMisalignedTensorOffset() throws {
        var b = try fixture
        let fields = tensorFields("q4_0", in: b, dims: 2)
        let offset = b[fields.offset..<(fields.offset + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        put64(offset + 4, at: fields.offset, in: &b)
        try expectError(b, "misaligned.gguf", ["tensor q4_0", "data offset \(offset + 4) is not a multiple of the alignment 64"])
    }

    func testUnsupportedAndUnknownTypes() throws {
        var b = try fixture
        let fields = tensorFields("q4_0", in: b, dims: 2)
        put32(GGMLType.IQ2_XXS.rawValue, at: fields.type, in: &b)
        let f = try GGUFFile(url: try write(b, "iq.gguf"))   // opens: metadata and other tensors stay usable
        XCTAssertEqual(try f.tensor("q4_0").type, .IQ2_XXS)
        assertGGUFError(try f.dequantize("q4_0"), contains: ["iq.gguf", "tensor q4_0", "has type IQ2_XXS, which fusellm cannot dequantize"])
        XCTAssertEqual(try f.dequantize("q4_1").count, 1024)
        put32(GGMLType.Q4_0_4_4.rawValue, at: fields.type, in: &b)
        let removed = try GGUFFile(url: try write(b, "removed.gguf"))
        assertGGUFError(try removed.dequantize("q4_0"), contains: ["tensor q4_0", "Q4_0_4_4", "ggml no longer supports"])
        put32(200, at: fields.type, in: &b)
        try expectError(b, "unknown.gguf", ["tensor q4_0", "unknown ggml type 200"])
        put32(4, at: fields.type, in: &b)
        try expectError(b, "unknown.gguf", ["tensor q4_0", "unknown ggml type 4"])
    }

    func testDimensionsOverflow() throws {
        var b = try fixture
        let fields = tensorFields("f32", in: b, dims: 2)
        put64(1 << 40, at: fields.dims, in: &b)
        put64(1 << 40, at: fields.dims + 8, in: &b)
        try expectError(b, "dims.gguf", ["tensor f32", "overflow"])
        b = try fixture
        put64(UInt64.max, at: fields.dims + 8, in: &b)
        try expectError(b, "dims.gguf", ["tensor f32", "dimension 1 is 18446744073709551615", "overflow"])
        b = try fixture
        // Fits in Int as elements, not as bytes.
        put64(1 << 30, at: fields.dims, in: &b)
        put64(1 << 30, at: fields.dims + 8, in: &b)
        try expectError(b, "dims.gguf", ["tensor f32", "runs past the end"])
        b = try fixture
        put64(1 << 60, at: fields.dims, in: &b)
        put64(4, at: fields.dims + 8, in: &b)
        try expectError(b, "dims.gguf", ["tensor f32", "overflow", "F32 data exceeds"])
        b = try fixture
        put32(5, at: fields.nDims, in: &b)
        try expectError(b, "dims.gguf", ["tensor f32", "has 5 dimensions", "at most 4"])
        b = try fixture
        let q = tensorFields("q4_k", in: b, dims: 2)
        put64(500, at: q.dims, in: &b)
        try expectError(b, "dims.gguf", ["tensor q4_k", "row length 500", "not a multiple of the Q4_K block size 256"])
    }

    // MARK: small hand-made files

    func testMetadataOnlyFileAndEmptyValues() throws {
        var g = HandMade()
        g.header(tensors: 1, kvs: 2)
        g.string("empty.strings"); g.u32(9); g.u32(8); g.u64(0)
        g.string("nested.empty"); g.u32(9); g.u32(9); g.u64(2); g.u32(4); g.u64(0); g.u32(4); g.u64(1); g.u32(7)
        g.string("zero"); g.u32(2); g.u64(0); g.u64(4); g.u32(0); g.u64(0)   // a [0, 4] F32 tensor
        let f = try GGUFFile(url: try write(g.bytes, "empty.gguf"))   // ends right after the tensor infos
        XCTAssertEqual(try f.strings("empty.strings"), [])
        XCTAssertEqual(f.metadata["nested.empty"], .array([.array([]), .array([.uint32(7)])]))
        XCTAssertEqual(f.dataSize, 0)
        XCTAssertEqual(try f.tensor("zero").elementCount, 0)
        XCTAssertEqual(try f.dequantize("zero"), [])

        var h = HandMade()
        h.header(tensors: 0, kvs: 1)
        h.string("general.architecture"); h.u32(8); h.string("llama")
        let m = try GGUFFile(url: try write(h.bytes, "meta.gguf"))
        XCTAssertEqual(try m.string("general.architecture"), "llama")
        XCTAssertTrue(m.tensors.isEmpty)
    }

    // MARK: never crash

    func testEveryTruncationFailsCleanly() throws {
        let b = try fixture
        let f = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        let last = f.tensors.map { $0.offset + $0.byteCount }.max()! + f.dataOffset
        var cuts = Array(0..<f.dataOffset)
        cuts += stride(from: f.dataOffset, to: last, by: 97)
        let url = dir.appendingPathComponent("truncated.gguf")
        for cut in cuts {
            try Data(b[0..<cut]).write(to: url)
            XCTAssertThrowsError(try GGUFFile(url: url), "cut at \(cut)") { error in
                XCTAssertTrue("\(error)".contains("truncated.gguf"), "cut at \(cut): \(error)")
            }
        }
    }

    func testRandomByteEditsNeverCrash() throws {
        var rng = SeededRandom(seed: 2024)
        for (fixtureName, rounds) in [("minimal.gguf", 3000), ("types.gguf", 300)] {
            let original = [UInt8](try Data(contentsOf: Fixtures.gguf(fixtureName)))
            let headerEnd = try GGUFFile(url: Fixtures.gguf(fixtureName)).dataOffset
            let url = dir.appendingPathComponent("fuzz-\(fixtureName)")
            var opened = 0
            for _ in 0..<rounds {
                var b = original
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let at = Int(rng.next() % UInt64(headerEnd))
                    b[at] = rng.next() % 3 == 0 ? 0xFF : UInt8(truncatingIfNeeded: rng.next())
                }
                try Data(b).write(to: url)
                do {
                    let f = try GGUFFile(url: url)
                    opened += 1
                    for info in f.tensors where info.type.isDequantizable {
                        XCTAssertEqual(try f.dequantize(info).count, info.elementCount)
                    }
                } catch let error as FormatError {
                    XCTAssertTrue(error.description.contains("fuzz-\(fixtureName)"))
                }
            }
            XCTAssertGreaterThan(opened, 0)
        }
    }
}

/// Builds small GGUF files byte by byte.
struct HandMade {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func header(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) {
        bytes += Array("GGUF".utf8)
        u32(version); u64(tensors); u64(kvs)
    }
}
