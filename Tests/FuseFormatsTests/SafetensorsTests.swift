import FuseFormats
import XCTest
import TestSupport

final class SafetensorsTests: XCTestCase {
    /// Writes a file with a hand-made header, for the bad-input cases.
    func rawFile(header: String, dataBytes: Int, in dir: URL, name: String = "model.safetensors") throws -> URL {
        var h = Data(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var d = Data(count: 8)
        d.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(h.count).littleEndian, as: UInt64.self) }
        d += h
        d += Data(count: dataBytes)
        let url = dir.appendingPathComponent(name)
        try d.write(to: url)
        return url
    }

    func assertError(_ body: @autoclosure () throws -> Any, contains fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = "\(error)"
            for f in fragments { XCTAssertTrue(text.contains(f), "error \"\(text)\" should mention \"\(f)\"", file: file, line: line) }
        }
    }

    func testRoundTripAllWriteDtypes() throws {
        let dir = temporaryDirectory("st")
        let values: [Float] = [0, 1, -2.5, 3.14159, 1e-3, -65504, 0.1, 7]
        for dtype in [DType.F32, .F16, .BF16] {
            let url = dir.appendingPathComponent("t-\(dtype).safetensors")
            try values.withUnsafeBufferPointer {
                try SafetensorsWriter.write([TensorToWrite(name: "w", shape: [2, 4], source: $0.baseAddress!)], dtype: dtype, to: url)
            }
            let f = try SafetensorsFile(url: url)
            XCTAssertEqual(f.tensors["w"]?.shape, [2, 4])
            XCTAssertEqual(f.tensors["w"]?.dtype, dtype)
            XCTAssertEqual(f.metadata["format"], "pt")
            let back = try f.floats("w")
            for (a, b) in zip(back, values) {
                let expected: Float = dtype == .F32 ? b : dtype == .F16 ? Float(Float16(b))
                    : HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(b))
                XCTAssertEqual(a, expected)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: AtomicFile.temporaryURL(for: url).path))
        }
    }

    func testBF16RoundsToNearestEven() {
        XCTAssertEqual(HalfPrecision.floatToBF16(1.0), 0x3F80)
        // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to the even one (1.0).
        XCTAssertEqual(HalfPrecision.floatToBF16(1 + 1.0 / 256), 0x3F80)
        XCTAssertEqual(HalfPrecision.floatToBF16(1 + 3.0 / 256), 0x3F82)
        XCTAssertTrue(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(.nan)).isNaN)
    }

    func testMissingFile() {
        let url = temporaryDirectory("st").appendingPathComponent("absent.safetensors")
        assertError(try SafetensorsFile(url: url), contains: ["absent.safetensors", "cannot read"])
    }

    func testTruncatedFile() throws {
        let dir = temporaryDirectory("st")
        let url = dir.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3]).write(to: url)
        assertError(try SafetensorsFile(url: url), contains: ["short.safetensors", "truncated"])
        // A complete header whose data was cut off.
        let cut = try rawFile(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8, in: dir)
        assertError(try SafetensorsFile(url: cut), contains: ["model.safetensors", "tensor w", "past the end"])
    }

    func testHeaderLengthBeyondFile() throws {
        let dir = temporaryDirectory("st")
        var d = Data(count: 8)
        d.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(1 << 40).littleEndian, as: UInt64.self) }
        d += Data("{}".utf8)
        let url = dir.appendingPathComponent("big.safetensors")
        try d.write(to: url)
        assertError(try SafetensorsFile(url: url), contains: ["big.safetensors", "header length"])
    }

    func testHeaderThatLiesAboutOffsets() throws {
        let dir = temporaryDirectory("st")
        let url = try rawFile(header: #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, dataBytes: 16, in: dir)
        assertError(try SafetensorsFile(url: url), contains: ["tensor w", "needs 16 bytes", "give 12"])
        let inverted = try rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, dataBytes: 16, in: dir, name: "b.safetensors")
        assertError(try SafetensorsFile(url: inverted), contains: ["b.safetensors", "tensor w", "begin <= end"])
    }

    func testUnknownDtypeAndBadJSON() throws {
        let dir = temporaryDirectory("st")
        let url = try rawFile(header: #"{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#, dataBytes: 1, in: dir)
        assertError(try SafetensorsFile(url: url), contains: ["tensor w", "unsupported dtype F8_E4M3"])
        let junk = try rawFile(header: "{not json", dataBytes: 0, in: dir, name: "junk.safetensors")
        assertError(try SafetensorsFile(url: junk), contains: ["junk.safetensors", "not valid JSON"])
    }

    func testIntegerTensorIsNotFloat() throws {
        let dir = temporaryDirectory("st")
        let url = try rawFile(header: #"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#, dataBytes: 16, in: dir)
        let f = try SafetensorsFile(url: url)
        XCTAssertEqual(try f.integers("ids"), [0, 0])
        assertError(try f.floats("ids"), contains: ["tensor ids", "not a floating-point type"])
        assertError(try f.floats("nope"), contains: ["tensor nope", "missing"])
    }

    func testShardedWriteAndRead() throws {
        let dir = temporaryDirectory("shards")
        let a: [Float] = (0..<100).map(Float.init), b: [Float] = (0..<60).map { Float($0) * -0.5 }
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try CheckpointTensors.write([TensorToWrite(name: "a", shape: [10, 10], source: pa.baseAddress!),
                                             TensorToWrite(name: "b", shape: [60], source: pb.baseAddress!)],
                                            dtype: .F32, to: dir, maxShardBytes: 400)
            }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model-00001-of-00002.safetensors").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors.index.json").path))
        let c = try CheckpointTensors(directory: dir)
        XCTAssertEqual(c.names, ["a", "b"])
        var out = [Float](repeating: 0, count: 60)
        try out.withUnsafeMutableBufferPointer { try c.copyFloats("b", into: $0.baseAddress!, count: 60) }
        XCTAssertEqual(out, b)
    }

    func testIndexNamingMissingShard() throws {
        let dir = temporaryDirectory("shards")
        try Data(#"{"weight_map":{"w":"model-00001-of-00002.safetensors"}}"#.utf8)
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        assertError(try CheckpointTensors(directory: dir), contains: ["model-00001-of-00002.safetensors", "cannot read"])
        let empty = temporaryDirectory("empty")
        assertError(try CheckpointTensors(directory: empty), contains: ["no model.safetensors"])
    }

    func testZstdRoundTripAndCorruption() throws {
        let text = Data(String(repeating: "fusellm zstd frame ", count: 1000).utf8)
        let packed = try Zstd.compress(text)
        XCTAssertLessThan(packed.count, text.count / 10)
        XCTAssertEqual(try Zstd.decompress(packed), text)
        assertError(try Zstd.decompress(packed.prefix(packed.count / 2), source: "shard.zst"), contains: ["shard.zst", "truncated"])
        assertError(try Zstd.decompress(Data([1, 2, 3, 4, 5, 6, 7, 8]), source: "bad.zst"), contains: ["bad.zst", "corrupt"])
    }
}
