import FuseFormats
@testable import Fusion
import XCTest
import TestSupport

final class TeacherDumpTests: XCTestCase {
    /// A block with a real-looking distribution: log-softmax of random logits, top-k kept.
    func makeBlock(_ id: Int, k: Int = 4, vocab: Int = 5000) -> TeacherText {
        var state = UInt64(id * 7919 + 13)
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        let n = 5 + id % 7
        var ids: [Int32] = [], values: [Float] = []
        for _ in 0..<n {
            var chosen = Set<Int32>()
            while chosen.count < k { chosen.insert(Int32(next() % UInt64(vocab))) }
            let lp = (0..<k).map { j in -Float(j) * 1.7 - Float(next() % 1000) / 997 }.sorted(by: >)
            ids += chosen.sorted()
            values += lp
        }
        let tokens = (0..<n).map { _ in Int32(next() % UInt64(vocab)) }
        return TeacherText(textID: id, tokens: tokens, k: k, topIDs: ids, topLogProbs: values, ceSum: Double(n) * 2.5, ceCount: n)
    }

    func settings(blocks: Int, perShard: Int, encoding: ValueEncoding = .q16, tokenizer: String = "tok") -> TeacherManifest {
        TeacherManifest(source: "test-model", tokenizerFingerprint: tokenizer, blocksFingerprint: "blocks", k: 4,
                        valueEncoding: encoding, blockCount: blocks, blocksPerShard: perShard)
    }

    func writeDump(_ m: TeacherManifest, to dir: URL, part: Int = 0, of parts: Int = 1) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for s in TeacherDump.shards(of: m, part: part, of: parts) {
            try TeacherShard.write(m.blockRange(ofShard: s).map { makeBlock($0) }, encoding: m.valueEncoding,
                                   to: dir.appendingPathComponent(TeacherManifest.shardFileName(s)))
        }
        try TeacherDump.finishPart(m, directory: dir, part: part, of: parts)
    }

    func testEveryEncodingRoundTripsWithinItsDocumentedError() throws {
        for (encoding, bound) in [(ValueEncoding.f32, Float(0)), (.f16, 0.004), (.q16, 0.00049), (.qgap, 0.00098)] {
            let dir = temporaryDirectory("dump-\(encoding)")
            let m = settings(blocks: 10, perShard: 3, encoding: encoding)
            try writeDump(m, to: dir)
            let reader = try TeacherDumpReader(directory: dir)
            XCTAssertEqual(reader.manifest.shards.count, 4)
            for id in [7, 0, 9, 3] {  // any order: frames are independent
                let b = try reader.block(id), e = makeBlock(id)
                XCTAssertEqual(b.tokens, e.tokens)
                XCTAssertEqual(b.ceSum, e.ceSum)
                XCTAssertEqual(b.ceCount, e.ceCount)
                var worst: Float = 0
                for i in 0..<e.topIDs.count {
                    // Highest-first order per position is restored; ids sorted by value within a position.
                    XCTAssertEqual(b.topIDs[i], e.topIDs[i], "\(encoding) block \(id) entry \(i)")
                    worst = max(worst, abs(b.topLogProbs[i] - e.topLogProbs[i]))
                }
                XCTAssertLessThanOrEqual(worst, bound, "\(encoding)")
            }
            try reader.verify()
        }
    }

    func testPartsFromSeveralWorkersMergeAndMissingPartsAreNamed() throws {
        let m = settings(blocks: 11, perShard: 2)
        let a = temporaryDirectory("part0"), b = temporaryDirectory("part1"), out = temporaryDirectory("merged")
        try writeDump(m, to: a, part: 0, of: 2)
        XCTAssertThrowsError(try TeacherDump.merge([a], into: out)) {
            XCTAssertTrue("\($0)".contains("3 of 6 shards are missing"), "\($0)")
        }
        try writeDump(m, to: b, part: 1, of: 2)
        let merged = try TeacherDump.merge([a, b], into: out)
        XCTAssertEqual(merged.shards.map(\.index), Array(0..<6))
        let reader = try TeacherDumpReader(directory: out)
        XCTAssertEqual(try reader.block(10), makeBlock(10).quantized(.q16))
        try reader.verify()
    }

    func testOtherSettingsRefuseToMerge() throws {
        let a = temporaryDirectory("s-a"), b = temporaryDirectory("s-b")
        try writeDump(settings(blocks: 4, perShard: 2), to: a, part: 0, of: 2)
        try writeDump(settings(blocks: 4, perShard: 2, tokenizer: "other"), to: b, part: 1, of: 2)
        XCTAssertThrowsError(try TeacherDump.merge([a, b], into: temporaryDirectory("s-out"))) {
            XCTAssertTrue("\($0)".contains("other settings"), "\($0)")
        }
    }

    func testCorruptOrTruncatedShardIsNamed() throws {
        let dir = temporaryDirectory("corrupt")
        try writeDump(settings(blocks: 4, perShard: 4), to: dir)
        let shard = dir.appendingPathComponent(TeacherManifest.shardFileName(0))
        var bytes = try Data(contentsOf: shard)
        bytes[bytes.count / 3] ^= 0x5A
        try bytes.write(to: shard)
        let reader = try TeacherDumpReader(directory: dir)
        XCTAssertThrowsError(try reader.verify()) { XCTAssertTrue("\($0)".contains("checksum mismatch"), "\($0)") }
        XCTAssertThrowsError(try (0..<4).forEach { _ = try reader.block($0) }) {
            XCTAssertTrue("\($0)".contains(shard.lastPathComponent), "\($0)")
        }
        try bytes.prefix(bytes.count - 5).write(to: shard)
        XCTAssertThrowsError(try TeacherDumpReader(directory: dir).block(0)) {
            XCTAssertTrue("\($0)".contains("truncated"), "\($0)")
        }
    }

    func testDumpFromAnotherTokenizerOrOtherBlocksIsRefused() throws {
        let dir = temporaryDirectory("check")
        try writeDump(settings(blocks: 3, perShard: 3), to: dir)
        let reader = try TeacherDumpReader(directory: dir)
        XCTAssertNoThrow(try reader.check(tokenizerFingerprint: "tok", blocksFingerprint: "blocks", blockCount: 3))
        XCTAssertThrowsError(try reader.check(tokenizerFingerprint: "new", blocksFingerprint: "blocks", blockCount: 3)) {
            XCTAssertTrue("\($0)".contains("another tokenizer"), "\($0)")
        }
        XCTAssertThrowsError(try reader.check(tokenizerFingerprint: "tok", blocksFingerprint: "blocks", blockCount: 4)) {
            XCTAssertTrue("\($0)".contains("covers 3 texts, the prepared corpus has 4"), "\($0)")
        }
        XCTAssertThrowsError(try reader.check(tokenizerFingerprint: "tok", blocksFingerprint: "other", blockCount: 3)) {
            XCTAssertTrue("\($0)".contains("other blocks"), "\($0)")
        }
    }

    func testResumeSkipsCompletedShards() throws {
        let dir = temporaryDirectory("resume")
        let m = settings(blocks: 9, perShard: 3)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try TeacherShard.write(m.blockRange(ofShard: 1).map { makeBlock($0) }, encoding: .q16,
                               to: dir.appendingPathComponent(TeacherManifest.shardFileName(1)))
        // A temporary file left by a killed writer is not a shard.
        try Data("partial".utf8).write(to: dir.appendingPathComponent(".shard-000002.fzst.tmp-1"))
        XCTAssertEqual(TeacherDump.completedShards(in: dir, among: [0, 1, 2]), [1])
    }
}

extension TeacherText {
    /// What a dump stores for this block in `encoding`.
    func quantized(_ encoding: ValueEncoding) -> TeacherText {
        if encoding == .qgap { return try! TeacherGapCodec.decode(try! TeacherGapCodec.encode(self), file: "-", item: "-") }
        let data = TeacherBlockCodec.encode(self, values: encoding)
        return try! TeacherBlockCodec.decode(data, values: encoding, file: "-", item: "-")
    }
}
