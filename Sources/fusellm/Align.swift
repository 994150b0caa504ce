import ArgumentParser
import FuseFormats
import Foundation
import Fusion
import FuseTensor
import FuseText
import Llama

struct Align: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Token alignment between a source's and the target's tokenizers.",
        subcommands: [AlignVocab.self, AlignCompare.self])
}

struct AlignVocab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocab",
        abstract: "Map every source token to a target token (EM, MinED or MS; rules in docs/alignment.md), cached per tokenizer pair (and corpus for MS).")

    @Option(help: "Source tokenizer: model directory, .gguf, tokenizer.json or tokenizer.model (with --dump: the dump's, by default).")
    var source: String?
    @Option(help: "Target tokenizer: model directory, .gguf, tokenizer.json or tokenizer.model.") var target: String
    @Option(help: "mined (exact match, else minimum edit distance), em (exact match only) or ms (exact match, else mapping statistics: needs --prepared and --dump).")
    var method = "mined"
    @Option(help: "ms: the prepared corpus whose texts are co-aligned.") var prepared: String?
    @Option(help: "ms: the source's dump of that corpus (its tokens; its tokenizer is the source's).") var dump: String?
    @Option(help: "Directory of cached maps (read when present, written when built).") var cache: String?
    @Option(help: "Also write the map as JSON (ids, distances, token strings of the inexact ones).") var output: String?
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard let chosen = VocabularyMethod(name: method) else {
            throw ValidationError("--method must be \(VocabularyMethod.choices), not \(method)")
        }
        guard source != nil || dump != nil else { throw ValidationError("give --source (or --dump, whose tokenizer is the source's)") }
        if chosen.needsCorpus {
            guard prepared != nil, dump != nil else { throw ValidationError("--method \(method) counts co-alignments over a corpus: give --prepared and --dump") }
        } else {
            guard prepared == nil else { throw ValidationError("--prepared is for --method ms") }
        }
    }

    func run() throws {
        compute.apply()
        do {
            let method = VocabularyMethod(name: method)!
            let sourceVocab = NormalizedVocabulary(try source.map { try BPETokenizer.load(path: $0) }
                                                   ?? DumpTokenizerFile.load(URL(fileURLWithPath: dump!)))
            let targetTokenizer = try BPETokenizer.load(path: target)
            let targetVocab = NormalizedVocabulary(targetTokenizer)
            var statistics: MappingStatisticsSource?
            if method.needsCorpus, let prepared, let dump {
                let reader = try TeacherDumpReader(directory: URL(fileURLWithPath: dump))
                let corpus = try PreparedCorpus(directory: URL(fileURLWithPath: prepared))
                try corpus.checkTarget(targetTokenizer)
                try reader.check(tokenizerFingerprint: sourceVocab.fingerprint, blocksFingerprint: corpus.blocksFingerprint,
                                 blockCount: corpus.textCount)
                statistics = .corpus(corpus, dump: reader, source: sourceVocab, target: targetVocab)
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let (map, cached) = try VocabularyMapCache.loadOrBuild(
                source: sourceVocab, target: targetVocab, method: method, directory: cache.map { URL(fileURLWithPath: $0) },
                corpus: statistics)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            print("source  \(source ?? dump!): \(sourceVocab.count) tokens, \(sourceVocab.spelling.rawValue), \(sourceVocab.fingerprint)")
            print("target  \(target): \(targetVocab.count) tokens, \(targetVocab.spelling.rawValue), \(targetVocab.fingerprint)")
            print("method  \(method.rawValue)\(cached ? " (from cache)" : "")")
            print("exact matches  \(map.exactCount)")
            print("\(method == .mappingStatistics ? "by statistics " : "MinED-mapped  ") \(map.inexactCount)")
            print("unmapped       \(map.unmappedCount)")
            print(String(format: "time           %.2f s (%d threads)", seconds, Parallel.threads))
            if let output {
                try AtomicFile.write(try Self.json(map, source: sourceVocab, target: targetVocab),
                                     to: URL(fileURLWithPath: output))
                print("wrote \(output)")
            }
        } catch {
            throw CleanExit(error)
        }
    }

    static func json(_ map: VocabularyMap, source: NormalizedVocabulary, target: NormalizedVocabulary) throws -> Data {
        var inexact: [[String: Any]] = []
        for (s, t) in map.targetIDs.enumerated() where map.distances[s] > 0 {
            inexact.append(["source": s, "source_text": source.text(of: Int32(s)), "target": Int(t),
                            "target_text": target.text(of: t), "distance": Int(map.distances[s])])
        }
        let object: [String: Any] = [
            "format": "fusellm-vocab-map", "version": Int(VocabularyMapCache.version), "method": map.method.rawValue,
            "source_fingerprint": map.sourceFingerprint, "target_fingerprint": map.targetFingerprint,
            "source_size": map.sourceCount, "target_size": map.targetCount,
            "exact": map.exactCount, "inexact_count": map.inexactCount, "unmapped": map.unmappedCount,
            "corpus_fingerprint": map.corpusFingerprint,
            "target_ids": map.targetIDs.map(Int.init), "distances": map.distances.map(Int.init), "inexact": inexact,
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
