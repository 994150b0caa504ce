import FuseFormats
import FuseTensor
import Foundation
import XCTest
import TestSupport

/// Shared by the GGUF test classes.
enum GGUFTestSupport {
    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Fixtures.gguf(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// One canonical text per value, built the same way from a GGUFValue and from the fixture JSON
    /// ({"type": ..., "value": ...}, scalars as strings, floats as IEEE bit patterns).
    static func canonical(_ v: GGUFValue) -> String {
        switch v {
        case .array(let items): return "ARRAY[" + items.map(canonical).joined(separator: ",") + "]"
        case .float32(let f): return "FLOAT32(" + String(format: "0x%08x", f.bitPattern) + ")"
        case .float64(let d): return "FLOAT64(" + String(format: "0x%016llx", d.bitPattern) + ")"
        case .string(let s): return "STRING(\(s.utf8.count):" + s + ")"
        case .bool(let b): return "BOOL(\(b))"
        default: return "\(v.typeName)(\(v))"
        }
    }

    static func canonical(json: Any) -> String {
        guard let entry = json as? [String: Any], let type = entry["type"] as? String else { return "?" }
        if type == "ARRAY" {
            let items = entry["value"] as? [Any] ?? []
            return "ARRAY[" + items.map { canonical(json: $0) }.joined(separator: ",") + "]"
        }
        let text = entry["value"] as? String ?? "?"
        if type == "STRING" { return "STRING(\(text.utf8.count):" + text + ")" }
        return "\(type)(\(text))"
    }

    /// FNV-1a, 64-bit, of the little-endian bytes of `values` (as the fixture script computes it).
    static func fnv1a64(_ values: [Float]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in values {
            var bits = v.bitPattern.littleEndian
            for _ in 0..<4 {
                h = (h ^ UInt64(bits & 0xFF)) &* 0x100_0000_01b3
                bits >>= 8
            }
        }
        return String(format: "%016llx", h)
    }
}

final class GGUFTests: XCTestCase {
    func testHeaderAndTensorInfosMatchTheReference() throws {
        let expected = try GGUFTestSupport.json("types.json")
        let f = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        XCTAssertEqual(Int(f.version), expected["version"] as? Int)
        XCTAssertEqual(f.alignment, 64)
        XCTAssertEqual(f.alignment, expected["alignment"] as? Int)
        XCTAssertEqual(f.dataOffset, expected["data_offset"] as? Int)
        XCTAssertEqual(f.dataOffset % 64, 0)
        let tensors = try XCTUnwrap(expected["tensors"] as? [[String: Any]])
        XCTAssertEqual(f.tensors.count, tensors.count)
        for (info, want) in zip(f.tensors, tensors) {
            XCTAssertEqual(info.name, want["name"] as? String)
            XCTAssertEqual(info.dimensions, want["dimensions"] as? [Int], info.name)
            XCTAssertEqual(info.type.name, want["type"] as? String, info.name)
            XCTAssertEqual(info.offset, want["offset"] as? Int, info.name)
            XCTAssertEqual(info.elementCount, want["elements"] as? Int, info.name)
            XCTAssertEqual(info.byteCount, want["bytes"] as? Int, info.name)
        }
        let cube = try f.tensor("cube")
        XCTAssertEqual(cube.dimensions, [32, 3, 2])
        XCTAssertEqual(cube.shape, [2, 3, 32])
        XCTAssertEqual(cube.rowLength, 32)
        XCTAssertEqual(try f.tensor("vector").dimensions, [7])
        XCTAssertEqual(try f.tensor("q4_k").type, .Q4_K)
        XCTAssertTrue(f.hasTensor("q6_k"))
        XCTAssertFalse(f.hasTensor("absent"))
    }

    func testEveryMetadataValueMatchesTheReference() throws {
        let expected = try GGUFTestSupport.json("types.json")
        let f = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        XCTAssertEqual(f.metadataKeys, expected["metadata_keys"] as? [String])
        let values = try XCTUnwrap(expected["metadata"] as? [String: Any])
        XCTAssertEqual(Set(f.metadata.keys), Set(values.keys))
        for (key, want) in values {
            let got = try XCTUnwrap(f.metadata[key], key)
            let a = GGUFTestSupport.canonical(got), b = GGUFTestSupport.canonical(json: want)
            XCTAssertEqual(Array(a.utf8), Array(b.utf8), "\(key): \(a) != \(b)")
        }
    }

    func testTypedMetadataHelpers() throws {
        let f = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        XCTAssertEqual(try f.int("test.uint8"), 200)
        XCTAssertEqual(try f.int("test.int8"), -100)
        XCTAssertEqual(try f.int("test.uint32"), 4_000_000_000)
        XCTAssertEqual(try f.int("test.int64"), -(1 << 62) - 7)
        XCTAssertEqual(try f.int("test.uint64"), 12_345_678_901_234)
        XCTAssertEqual(try f.int("general.alignment"), 64)
        XCTAssertEqual(try f.double("test.float32"), Double(Float(3.14159)))
        XCTAssertEqual(try f.double("test.float64"), 2.718281828459045)
        XCTAssertEqual(try f.double("test.block_count"), 30)
        XCTAssertEqual(try f.string("general.architecture"), "test")
        XCTAssertEqual(try f.string("test.string"), "héllo wörld ✓ 🦙 \"quoted\"\n")
        XCTAssertEqual(try f.string("test.string.empty"), "")
        XCTAssertEqual(try f.bool("test.bool.true"), true)
        XCTAssertEqual(try f.bool("test.bool.false"), false)
        XCTAssertEqual(try f.strings("test.array.string"), ["<s>", "", "Ġthe", "日本語", "a b"])
        XCTAssertEqual(try f.ints("test.array.int32"), [-5, 0, 5, 2_147_483_647])
        XCTAssertEqual(try f.ints("test.array.uint8"), [0, 1, 255])
        XCTAssertEqual(try f.ints("test.array.int64"), [Int.min, Int.max])
        XCTAssertEqual(try f.doubles("test.array.float32"), [0.5, Double(Float(-1e-3)), 65504])
        XCTAssertEqual(try f.doubles("test.array.int16"), [-32768, 32767])
        XCTAssertEqual(f.metadata["test.array.nested"], .array([.array([.int32(1), .int32(2), .int32(3)]),
                                                               .array([.int32(4)]), .array([.int32(5), .int32(6)])]))
        XCTAssertEqual(try f.array("test.array.nested.string")[1].arrayValue?.first?.stringValue, "déf")
        XCTAssertEqual(f.optionalInt("test.block_count"), 30)
        XCTAssertNil(f.optionalInt("absent.key"))
        XCTAssertNil(f.optionalInt("test.string"))
        XCTAssertEqual(f.optionalString("general.architecture"), "test")
        XCTAssertEqual(f.optionalDouble("test.float64"), 2.718281828459045)
        XCTAssertEqual(f.optionalBool("test.bool.true"), true)
        XCTAssertEqual(GGUFValue.uint64(.max).doubleValue, 18446744073709551615.0)

        let name = "types.gguf"
        assertGGUFError(try f.int("absent.key"), contains: [name, "metadata key absent.key", "missing"])
        assertGGUFError(try f.int("test.string"), contains: [name, "metadata key test.string", "STRING", "expected an integer"])
        assertGGUFError(try f.int("test.uint64.max"), contains: [name, "metadata key test.uint64.max", "UINT64 18446744073709551615"])
        assertGGUFError(try f.double("test.bool.true"), contains: [name, "metadata key test.bool.true", "expected a number"])
        assertGGUFError(try f.string("test.uint8"), contains: [name, "metadata key test.uint8", "UINT8 200", "expected a string"])
        assertGGUFError(try f.strings("test.string"), contains: [name, "metadata key test.string", "expected an array"])
        assertGGUFError(try f.strings("test.array.int32"), contains: [name, "metadata key test.array.int32", "item 0 is INT32", "expected a string"])
        assertGGUFError(try f.ints("test.array.nested"), contains: [name, "metadata key test.array.nested", "item 0 is ARRAY"])
        assertGGUFError(try f.ints("test.array.uint64"), contains: [name, "metadata key test.array.uint64", "item 1 is UINT64"])
        assertGGUFError(try f.doubles("test.array.string"), contains: [name, "metadata key test.array.string", "expected a number"])
        assertGGUFError(try f.tensor("blk.0.nope"), contains: [name, "tensor blk.0.nope", "missing"])
        assertGGUFError(try f.dequantize("blk.0.nope"), contains: [name, "tensor blk.0.nope", "missing"])
    }

    func testDequantizationMatchesGGUFPackageBitForBit() throws {
        let f = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        let expected = try SafetensorsFile(url: Fixtures.gguf("types-expected.safetensors"))
        let hashes = try XCTUnwrap(GGUFTestSupport.json("types.json")["fnv1a64"] as? [String: String])
        var checked = Set<GGMLType>()
        for info in f.tensors where info.type.isDequantizable {
            let got = try f.dequantize(info.name)
            XCTAssertEqual(got.count, info.elementCount)
            XCTAssertEqual(GGUFTestSupport.fnv1a64(got), hashes[info.name], "\(info.name) (\(info.type.name))")
            checked.insert(info.type)
            guard !info.name.hasSuffix(".big") else { continue }
            let want = try expected.floats(info.name)
            XCTAssertEqual(want.count, got.count, info.name)
            var mismatches = 0
            for i in 0..<min(want.count, got.count) where want[i].bitPattern != got[i].bitPattern {
                if mismatches < 5 { XCTFail("\(info.name) (\(info.type.name)) [\(i)]: \(got[i]) != \(want[i]) (gguf.quants)") }
                mismatches += 1
            }
            XCTAssertEqual(mismatches, 0, "\(info.name): \(mismatches) of \(want.count) values differ")
        }
        XCTAssertEqual(checked, [.F32, .F16, .BF16, .Q8_0, .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K])
        XCTAssertEqual(hashes.count, checked.count + 4)   // the two .big tensors, vector, cube
        // The F16 fixture's special values survive: ±0, ±inf, NaN, 65504, the smallest normal and subnormal.
        let f16 = try f.dequantize("f16")
        XCTAssertEqual(f16[1].bitPattern, (-Float(0)).bitPattern)
        XCTAssertEqual(f16[2], .infinity)
        XCTAssertEqual(f16[3], -.infinity)
        XCTAssertTrue(f16[4].isNaN)
        XCTAssertEqual(f16[5], 65504)
        XCTAssertEqual(f16[7], Float(Float16.leastNonzeroMagnitude))
    }

    func testParallelAndSerialDequantizationAgree() throws {
        let f = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        for name in ["q8_0.big", "q4_1.big", "q4_k", "f16"] {
            Parallel.threads = 1
            let serial = try f.dequantize(name)
            Parallel.threads = 2
            let parallel = try f.dequantize(name)
            XCTAssertEqual(serial.map(\.bitPattern), parallel.map(\.bitPattern), name)
        }
    }

    func testDequantizeIntoBufferAndRawBytes() throws {
        let f = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        let info = try f.tensor("q5_1")
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: info.elementCount + 1)
        defer { buffer.deallocate() }
        buffer[info.elementCount] = 12345
        try f.dequantize(info, into: buffer)
        XCTAssertEqual(buffer[info.elementCount], 12345, "wrote past elementCount")
        let array = try f.dequantize("q5_1")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: buffer, count: info.elementCount)), array)
        let rawCount = try f.withRawBytes(info) { $0.count }
        XCTAssertEqual(rawCount, 1024 / 32 * 24)
    }

    func testUnsupportedTypeOpensButRefusesToDequantize() throws {
        let f = try GGUFFile(url: Fixtures.gguf("types.gguf"))
        let info = try f.tensor("unsupported.iq2_xxs")
        XCTAssertEqual(info.type, .IQ2_XXS)
        XCTAssertEqual(info.byteCount, 66)
        assertGGUFError(try f.dequantize("unsupported.iq2_xxs"),
                        contains: ["types.gguf", "tensor unsupported.iq2_xxs", "has type IQ2_XXS, which fusellm cannot dequantize"])
    }

    func testDefaultAlignmentFile() throws {
        let expected = try GGUFTestSupport.json("minimal.json")
        let f = try GGUFFile(url: Fixtures.gguf("minimal.gguf"))
        XCTAssertEqual(f.alignment, 32)
        XCTAssertNil(f.metadata["general.alignment"])
        XCTAssertEqual(f.dataOffset, expected["data_offset"] as? Int)
        XCTAssertEqual(f.metadataKeys, expected["metadata_keys"] as? [String])
        XCTAssertEqual(try f.int("llama.block_count"), 2)
        let values = try XCTUnwrap(expected["values"] as? [String: [Int]])
        for info in f.tensors {
            XCTAssertEqual(try f.dequantize(info.name).map { Int($0.bitPattern) }, values[info.name], info.name)
        }
        XCTAssertEqual(f.tensors.map(\.offset), [0, 32])
        XCTAssertEqual(f.tensors.map(\.dimensions), [[5], [32, 3]])
    }

    /// The F16 path converts without Float16's library call: it must agree with
    /// HalfPrecision.f16ToFloat on every one of the 65,536 bit patterns (NaN payloads included).
    func testF16ConversionCoversEveryBitPattern() throws {
        var g = HandMade()
        g.header(tensors: 1, kvs: 0)
        g.string("all"); g.u32(1); g.u64(65536); g.u32(GGMLType.F16.rawValue); g.u64(0)
        while g.bytes.count % 32 != 0 { g.bytes.append(0) }
        for h in 0...UInt16.max { withUnsafeBytes(of: h.littleEndian) { g.bytes += $0 } }
        let url = temporaryDirectory("gguf").appendingPathComponent("all-f16.gguf")
        try Data(g.bytes).write(to: url)
        let values = try GGUFFile(url: url).dequantize("all")
        var mismatches = 0
        for h in 0...UInt16.max where values[Int(h)].bitPattern != HalfPrecision.f16ToFloat(h).bitPattern {
            if mismatches < 5 { XCTFail(String(format: "f16 0x%04x: 0x%08x != 0x%08x", h, values[Int(h)].bitPattern, HalfPrecision.f16ToFloat(h).bitPattern)) }
            mismatches += 1
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testTypeTable() {
        XCTAssertEqual(GGMLType.Q4_K.name, "Q4_K")
        XCTAssertEqual(GGMLType(rawValue: 16)?.name, "IQ2_XXS")
        XCTAssertEqual(GGMLType(rawValue: 30), .BF16)
        XCTAssertNil(GGMLType(rawValue: 4))
        XCTAssertNil(GGMLType(rawValue: 1000))
        let sizes: [GGMLType: (Int, Int)] = [.F32: (1, 4), .F16: (1, 2), .BF16: (1, 2), .Q4_0: (32, 18), .Q4_1: (32, 20),
                                             .Q5_0: (32, 22), .Q5_1: (32, 24), .Q8_0: (32, 34), .Q8_1: (32, 40),
                                             .Q2_K: (256, 84), .Q3_K: (256, 110), .Q4_K: (256, 144), .Q5_K: (256, 176),
                                             .Q6_K: (256, 210), .Q8_K: (256, 292), .IQ2_XXS: (256, 66), .IQ4_NL: (32, 18)]
        for (type, (block, size)) in sizes {
            XCTAssertEqual(type.blockSize, block, type.name)
            XCTAssertEqual(type.typeSize, size, type.name)
        }
    }
}

func assertGGUFError(_ body: @autoclosure () throws -> Any, contains fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertTrue(error is FormatError, "\(error) is not a FormatError", file: file, line: line)
        let text = "\(error)"
        for f in fragments {
            XCTAssertTrue(text.contains(f), "error \"\(text)\" should mention \"\(f)\"", file: file, line: line)
        }
    }
}
