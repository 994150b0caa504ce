import Ablation
import FuseCorpus
import FuseFormats
@testable import Fusion
import FuseText
import Foundation
import Llama
import Merging
import Models
import TestSupport
import XCTest

/// Corrupted copies of a valid file for every reader: each case reads or is refused with an error naming the file;
/// none crashes or hangs. Each test prints its case counts ("fuzz NAME: N cases, …").
final class ReaderFuzzTests: XCTestCase {
    func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    func testSafetensors() throws {
        for fixture in [Fixtures.llama("tied/model.safetensors"), Fixtures.root.appendingPathComponent("merge/inputs.safetensors")] {
            ReaderFuzz(name: "safetensors-\(fixture.deletingLastPathComponent().lastPathComponent)", seedBytes: try bytes(fixture),
                       fileName: "model.safetensors").run { url in
                let file = try SafetensorsFile(url: url)
                for name in file.names { _ = try file.floats(name) }
            }
        }
    }

    func testGGUF() throws {
        for fixture in ["minimal.gguf", "types.gguf"] {
            ReaderFuzz(name: "gguf-\(fixture)", seedBytes: try bytes(Fixtures.gguf(fixture)), fileName: fixture).run { url in
                let file = try GGUFFile(url: url)
                for tensor in file.tensors {
                    // types.gguf holds an IQ2_XXS tensor on purpose: refusing it is right; the others must still read.
                    do { _ = try file.dequantize(tensor) } catch where "\(error)".contains("cannot dequantize") { continue }
                }
                for key in file.metadataKeys { _ = try file.value(key) }
            }
        }
    }

    func testCorpusReaders() throws {
        for fixture in ["parquet/dict-v1-snappy-nulls.parquet", "parquet/dict-v2-gzip-nulls.parquet", "parquet/dict-v1-zstd-nulls.parquet",
                        "jsonl/docs.jsonl", "jsonl/docs.jsonl.zst"] {
            let url = URL(fileURLWithPath: Fixtures.corpus(fixture))
            ReaderFuzz(name: "corpus-\(url.lastPathComponent)", seedBytes: try bytes(url), fileName: url.lastPathComponent,
                       cases: 200).run { url in
                _ = try Corpus(paths: [url.path]).documents().collect()
            }
        }
    }

    func testTokenizerJSON() throws {
        let text = "Hello wörld 123 — 日本語 <s> \t\n  end"
        for fixture in ["bytelevel/tokenizer.json", "spm/tokenizer.json"] {
            var fuzz = ReaderFuzz(name: "tokenizer.json-\(fixture.split(separator: "/")[0])", seedBytes: try bytes(Fixtures.tokenizers(fixture)),
                                  fileName: "tokenizer.json", cases: 150)
            fuzz.structuredJSON = true
            fuzz.run { url in
                let t = try BPETokenizer.load(tokenizerJSON: url)
                _ = t.decode(t.encode(text))
            }
        }
    }

    func testSentencePieceModel() throws {
        ReaderFuzz(name: "tokenizer.model", seedBytes: try bytes(Fixtures.tokenizers("spm/tokenizer.model")),
                   fileName: "tokenizer.model", cases: 150).run { url in
            let t = try BPETokenizer.load(sentencePieceModel: url)
            _ = t.decode(t.encode("Hello wörld 123 — 日本語"))
        }
    }

    func testModelConfig() throws {
        var fuzz = ReaderFuzz(name: "config.json", seedBytes: try bytes(Fixtures.llama("tied/config.json")), fileName: "config.json", cases: 400)
        fuzz.structuredJSON = true
        fuzz.run { url in _ = try LlamaConfig.load(from: url) }
    }

    /// Every source family's config.json (and the GGUF of one) through its family's reader and layout.
    func testSourceFamilyConfigsAndGGUF() throws {
        for family in ["gemma3", "gpt_neox", "mixtral", "phi3", "gpt2", "llama3"] {
            var fuzz = ReaderFuzz(name: "config.json-\(family)", seedBytes: try bytes(Fixtures.family(family).appendingPathComponent("config.json")),
                                  fileName: "config.json", cases: 150)
            fuzz.structuredJSON = true
            fuzz.run { url in
                let reader = try ConfigReader.load(url)
                let f = try ModelFamilies.family(modelType: try reader.string("model_type"), source: reader.source)
                _ = f.layout(try f.config(reader))
            }
        }
        ReaderFuzz(name: "gguf-qwen3", seedBytes: try bytes(Fixtures.family("qwen3").appendingPathComponent("model.gguf")),
                   fileName: "model.gguf", cases: 200).run { url in
            let model = try TransformerModel.load(gguf: GGUFFile(url: url))
            _ = model.forward(ids: [1, 2, 3], batch: 1, seqLen: 3)
        }
    }

    func testDumpShardAndManifest() throws {
        let dir = temporaryDirectory("fuzz-dump-seed")
        let blocks = (0..<3).map { b in
            TeacherText(textID: b, tokens: (0..<6).map { Int32($0 * 3 + b) }, k: 2,
                         topIDs: (0..<12).map { Int32($0 * 5 + b) }, topLogProbs: (0..<12).map { -Float($0 % 2) - 0.25 },
                         ceSum: 3.5, ceCount: 6)
        }
        let shard = dir.appendingPathComponent("shard.bin")
        _ = try TeacherShard.write(blocks, encoding: .q16, to: shard)
        ReaderFuzz(name: "dump-shard", seedBytes: try bytes(shard), fileName: "shard-00000.fts").run { url in
            let reader = try TeacherShard.Reader(url: url)
            for i in 0..<reader.blockCount { _ = try reader.block(at: i, encoding: .q16) }
        }
        // The block record inside a frame (after zstd's checksum, which would catch most of the above).
        let record = TeacherBlockCodec.encode(blocks[1], values: .f16)
        ReaderFuzz(name: "dump-block-record", seedBytes: [UInt8](record), fileName: "record.bin", cases: 600).run { url in
            _ = try TeacherBlockCodec.decode(Data(contentsOf: url), values: .f16, file: url.path, item: "block")
        }
        let gapShard = dir.appendingPathComponent("gap-shard.bin")
        _ = try TeacherShard.write(blocks, encoding: .qgap, to: gapShard)
        ReaderFuzz(name: "dump-shard-qgap", seedBytes: try bytes(gapShard), fileName: "shard-00001.fts").run { url in
            let reader = try TeacherShard.Reader(url: url)
            for i in 0..<reader.blockCount { _ = try reader.block(at: i, encoding: .qgap) }
        }
        let gapRecord = try TeacherGapCodec.encode(blocks[2])
        ReaderFuzz(name: "dump-qgap-record", seedBytes: [UInt8](gapRecord), fileName: "record.bin", cases: 600).run { url in
            _ = try TeacherGapCodec.decode(Data(contentsOf: url), file: url.path, item: "text")
        }
        let manifest = TeacherManifest(source: "m", tokenizerFingerprint: "t", blocksFingerprint: "b", k: 2, valueEncoding: .q16,
                                       blockCount: 3, blocksPerShard: 2)
        let manifestURL = dir.appendingPathComponent("manifest.json")
        try manifest.write(to: manifestURL)
        var fuzz = ReaderFuzz(name: "dump-manifest", seedBytes: try bytes(manifestURL), fileName: "manifest.json")
        fuzz.structuredJSON = true
        fuzz.run { url in _ = try TeacherManifest.read(url) }
    }

    func testZstdFrames() throws {
        let frame = try Zstd.compress(Data((0..<4000).map { UInt8($0 % 251) }), checksum: true)
        ReaderFuzz(name: "zstd", seedBytes: [UInt8](frame), fileName: "data.zst", cases: 400).run { url in
            _ = try Zstd.decompress(Data(contentsOf: url), source: url.path)
        }
    }

    /// Inputs that take Yams itself down (a force-unwrap on a non-scalar key) or blow up (alias expansion).
    func testYAMLThatWouldCrashOrExplodeIsRefused() throws {
        let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + (1...9).map { i in
            "\(Character(UnicodeScalar(97 + i)!)): &\(Character(UnicodeScalar(97 + i)!)) [" + Array(repeating: "*\(Character(UnicodeScalar(96 + i)!))", count: 10).joined(separator: ", ") + "]"
        }.joined(separator: "\n")
        for (text, expected) in [("? [a, b]\n: c\n", "mapping key"), ("{x: y}: z\n", "mapping key"), ("m:\n  ? {k: v}\n  : 1\n", "mapping key"),
                                 (laughs, "more than")] {
            XCTAssertThrowsError(try SafeYAML.load(text, source: "bad.yaml")) { error in
                XCTAssertTrue("\(error)".contains("bad.yaml") && "\(error)".contains(expected), "\(error)")
            }
        }
        XCTAssertEqual(try SafeYAML.load("a: [1, 2]\n", source: "ok.yaml") as? [String: [Int]], ["a": [1, 2]])
        XCTAssertNil(try SafeYAML.load("", source: "empty.yaml"))
    }

    func testYAMLFiles() throws {
        let recipe = """
            merge_method: ties
            base_model: base
            models:
              - model: a
                parameters: {weight: 0.5, density: 0.7}
              - b
            parameters: {normalize: true, weight: 0.5, density: 0.5}
            seed: 3
            dtype: f32
            """
        ReaderFuzz(name: "merge-recipe", seedBytes: Array(recipe.utf8), fileName: "recipe.yaml", cases: 400).run { url in
            _ = try MergeRecipe.load(path: url.path)
        }
        let ablation = """
            output: o
            prepared: p
            init_from: t
            target_dump: d
            sources: {a: d/a, b: d/b}
            train: {steps: 10, lr: 1e-3}
            eval: {data: [v.parquet], block_size: 64}
            seeds: [1, 2]
            grid: {fusion: [mince, avgce], lambda: [0.9, 0.5], top_k: [all, 3], sources: [[a], [a, b]]}
            arms: [{name: clm, fusion: clm}, {fusion: "single:a", sources: [a]}]
            baselines: [{name: e, ensemble: [x, y]}, {name: m, merge: r.yaml}]
            compare_to: clm
            """
        ReaderFuzz(name: "ablation-config", seedBytes: Array(ablation.utf8), fileName: "ablation.yaml", cases: 400).run { url in
            _ = try AblationConfig.load(path: url.path).expandArms()
        }
    }
}
