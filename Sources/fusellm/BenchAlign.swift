import ArgumentParser
import FuseCorpus
import FuseFormats
import FuseTensor
import FuseText
import Foundation
import Fusion
import Llama

struct BenchAlign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align",
        abstract: "MinED vocabulary map and DTW + transform timings, against a plain Python editdistance implementation.")

    @Option(help: "Source tokenizer (model directory, .gguf, tokenizer.json or tokenizer.model).")
    var source = "checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "Target tokenizer; default: a 32k SentencePiece BPE trained on data/sample by scripts/bench-align-python.py (kept in checkpoints/bench-align/), else data/tokenizers/target-spm.")
    var target: String?
    @Option(help: "Text for the DTW timing: its first document, cut to --dtw-tokens target tokens.")
    var text = "data/sample/minipile/train-00000-of-00002.parquet"
    @Option(help: "Target tokens of the DTW text.") var dtwTokens = 2000
    @Option(help: "Inexact source tokens the Python reference maps (its full time is extrapolated).") var sample = 200
    @Flag(help: "Skip the Python reference.") var noPython = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        do { try bench() } catch { throw CleanExit(error) }
    }

    private func resolveTarget() -> String {
        if let target { return target }
        let trained = "checkpoints/bench-align/spm-32k"
        let model = trained + "/tokenizer.model"
        if !FileManager.default.fileExists(atPath: model), !noPython {
            FileHandle.standardError.write(Data("bench: training a 32k SentencePiece tokenizer on data/sample (once)…\n".utf8))
            _ = runPythonReference("scripts/bench-align-python.py", ["make-vocab", "--output", trained, "--size", "32000"])
        }
        if FileManager.default.fileExists(atPath: model) { return model }
        FileHandle.standardError.write(Data("bench: no 32k tokenizer (needs Python sentencepiece); using data/tokenizers/target-spm\n".utf8))
        return "data/tokenizers/target-spm/tokenizer.model"
    }

    private func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }

    private func bench() throws {
        let targetPath = resolveTarget()
        let sourceTok = try BPETokenizer.load(path: source), targetTok = try BPETokenizer.load(path: targetPath)
        let sourceVocab = NormalizedVocabulary(sourceTok), targetVocab = NormalizedVocabulary(targetTok)
        let threads = Parallel.threads

        // MinED map, all threads then one.
        var start = DispatchTime.now().uptimeNanoseconds
        let map = VocabularyMap.build(source: sourceVocab, target: targetVocab, method: .minED)
        let minedSeconds = seconds(since: start)
        Parallel.threads = 1
        start = DispatchTime.now().uptimeNanoseconds
        _ = VocabularyMap.build(source: sourceVocab, target: targetVocab, method: .minED)
        let minedOneThread = seconds(since: start)
        Parallel.threads = threads

        // DTW + transform on one real text of about --dtw-tokens target tokens.
        let document = try Corpus(paths: [text]).documents().next()?.text ?? ""
        var targetIDs = targetTok.encode(document)
        let piece = targetIDs.count > dtwTokens ? targetTok.decode(Array(targetIDs.prefix(dtwTokens))) : document
        targetIDs = targetTok.encode(piece)
        let sourceIDs = sourceTok.encode(piece)
        let aligner = CrossTokenizerAligner(source: sourceVocab, target: targetVocab, map: map)
        let teacher = Self.syntheticTeacher(sourceIDs, vocabulary: sourceVocab.count, k: 10)
        start = DispatchTime.now().uptimeNanoseconds
        let alignment = SequenceAlignment.compute(sourceTokens: sourceIDs, targetTokens: targetIDs, distance: aligner.distance)
        let dtwSeconds = seconds(since: start)
        start = DispatchTime.now().uptimeNanoseconds
        let aligned = aligner.transform(teacher, targetTokens: targetIDs, alignment: alignment)
        let transformSeconds = seconds(since: start)
        let matched = alignment.sources.indices.filter { aligned.ids[$0 * aligned.width] >= 0 && aligned.logits[$0 * aligned.width] != 0 }.count

        var result: [String: Any] = [
            "source": source, "target": targetPath, "source_size": sourceVocab.count, "target_size": targetVocab.count,
            "threads": threads, "exact": map.exactCount, "mined": map.inexactCount, "unmapped": map.unmappedCount,
            "mined_seconds": minedSeconds, "mined_seconds_1_thread": minedOneThread,
            "dtw_source_tokens": sourceIDs.count, "dtw_target_tokens": targetIDs.count, "dtw_seconds": dtwSeconds,
            "transform_seconds": transformSeconds, "rows_from_source": matched,
        ]
        if !noPython { try runReference(map: map, source: sourceVocab, target: targetVocab, sourceIDs: sourceIDs,
                                        targetIDs: targetIDs, ourDTW: dtwSeconds, into: &result) }
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .withoutEscapingSlashes]),
                         as: UTF8.self))
            return
        }
        print("""
            fusellm bench align  (\(threads) threads)
              source  \(source): \(sourceVocab.count) tokens (\(sourceVocab.spelling.rawValue))
              target  \(targetPath): \(targetVocab.count) tokens (\(targetVocab.spelling.rawValue))
              map     exact \(map.exactCount), MinED \(map.inexactCount), unmapped \(map.unmappedCount)
            """)
        print(String(format: "  MinED map            %8.2f s  (%.2f s on 1 thread)", minedSeconds, minedOneThread))
        if let py = result["python_mined_seconds_estimated"] as? Double, let p = result["python_processes"] as? Int {
            print(String(format: "  Python editdistance  %8.0f s  estimated from %d tokens on %d processes → fusellm is %.0f× faster",
                         py, result["python_sampled"] as? Int ?? 0, p, py / minedSeconds))
            print("  same target on the Python sample: \(result["python_sample_agree"] ?? 0)/\(result["python_sampled"] ?? 0)")
        }
        print(String(format: "  DTW %d × %d tokens   %8.3f s  (+ transform %.4f s; %d of %d rows take the source's distribution)",
                     sourceIDs.count, targetIDs.count, dtwSeconds, transformSeconds, matched, targetIDs.count))
        if let py = result["python_dtw_seconds_estimated"] as? Double {
            print(String(format: "  Python dtw (others.py)  %8.1f s  estimated for the same text → fusellm is %.0f× faster",
                         py, py / dtwSeconds))
        }
    }

    private func runReference(map: VocabularyMap, source: NormalizedVocabulary, target: NormalizedVocabulary,
                              sourceIDs: [Int32], targetIDs: [Int32], ourDTW: Double, into result: inout [String: Any]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fusellm-bench-align-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func units(_ v: NormalizedVocabulary) -> [[Int]] { (0..<v.count).map { v.units(of: Int32($0)).map(Int.init) } }
        let vocabs = dir.appendingPathComponent("vocabs.json")
        try JSONSerialization.data(withJSONObject: [
            "source_units": units(source), "source_kinds": source.kinds.map { Int($0.rawValue) },
            "target_units": units(target), "target_kinds": target.kinds.map { Int($0.rawValue) },
        ]).write(to: vocabs)
        if let ref = runPythonReference("scripts/bench-align-python.py",
                                        ["mined", "--vocabs", vocabs.path, "--sample", "\(sample)", "--processes", "\(Parallel.threads)"]),
           let estimated = ref["seconds_estimated"] as? Double, let ids = ref["sample_ids"] as? [Int],
           let targets = ref["sample_targets"] as? [Int] {
            result["python_mined_seconds_estimated"] = estimated
            result["python_processes"] = ref["processes"]
            result["python_sampled"] = ids.count
            result["python_sample_agree"] = zip(ids, targets).filter { Int(map.targetIDs[$0]) == $1 }.count
            result["speedup_vs_python_mined"] = estimated / (result["mined_seconds"] as! Double)
        }
        // The reference DTW is O(n·m) Python; time it on the first 300 target tokens' worth and scale by n·m.
        let n = min(300, targetIDs.count), fraction = Double(n) / Double(max(1, targetIDs.count))
        let m = min(sourceIDs.count, Int((Double(sourceIDs.count) * fraction).rounded()))
        let sequences = dir.appendingPathComponent("sequences.json")
        try JSONSerialization.data(withJSONObject: [
            "source": sourceIDs.prefix(m).map { source.units(of: $0).map(Int.init) },
            "target": targetIDs.prefix(n).map { target.units(of: $0).map(Int.init) },
        ]).write(to: sequences)
        if let ref = runPythonReference("scripts/bench-align-python.py", ["dtw", "--sequences", sequences.path]),
           let s = ref["seconds"] as? Double, m > 0, n > 0 {
            result["python_dtw_seconds_estimated"] = s * Double(sourceIDs.count * targetIDs.count) / Double(m * n)
            result["speedup_vs_python_dtw"] = (result["python_dtw_seconds_estimated"] as! Double) / ourDTW
        }
    }

    /// k entries per source position: the true next token first, then fixed pseudo-random ids.
    static func syntheticTeacher(_ tokens: [Int32], vocabulary: Int, k: Int) -> TeacherText {
        var rng = SeededRandom(seed: 9)
        var ids: [Int32] = [], values: [Float] = []
        for p in 0..<tokens.count {
            ids.append(p + 1 < tokens.count ? tokens[p + 1] : 0)
            for _ in 1..<k { ids.append(Int32(rng.next() % UInt64(vocabulary))) }
            for e in 0..<k { values.append(-0.3 - Float(e)) }
        }
        return TeacherText(textID: 0, tokens: tokens, k: k, topIDs: ids, topLogProbs: values, ceSum: 0, ceCount: 0)
    }
}
