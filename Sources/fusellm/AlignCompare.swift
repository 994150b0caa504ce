import ArgumentParser
import FuseFormats
import Foundation
import Fusion
import FuseText

/// The share of target positions each alignment method pairs one-to-one with a source position (rows that take
/// the source's distribution), over a dump's texts: what `--alignment dtw|offsets` changes before any training.
struct AlignCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Per alignment method (dtw, offsets), the share of target positions that take a source's row, over a dump's texts.")

    @Option(help: "Directory written by fusellm prepare (the target's tokens of each text).") var prepared: String
    @Option(help: "Target tokenizer: model directory, .gguf, tokenizer.json or tokenizer.model.") var target: String
    @Option(help: "A source's dump (its tokenizer is kept beside it).") var dump: String
    @Option(help: "mined, em or ms.") var vocabMap = "mined"
    @Option(help: "Directory of cached vocabulary maps.") var cache: String?
    @Option(help: "Use at most this many texts.") var texts = Int.max
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        do {
            guard let method = VocabularyMethod(name: vocabMap) else { throw ValidationError("--vocab-map must be \(VocabularyMethod.choices)") }
            let corpus = try PreparedCorpus(directory: URL(fileURLWithPath: prepared))
            let reader = try TeacherDumpReader(directory: URL(fileURLWithPath: dump))
            let targetVocabulary = NormalizedVocabulary(try BPETokenizer.load(path: target))
            let sourceVocabulary = NormalizedVocabulary(try DumpTokenizerFile.load(URL(fileURLWithPath: dump)))
            let (map, _) = try VocabularyMapCache.loadOrBuild(
                source: sourceVocabulary, target: targetVocabulary, method: method, directory: cache.map { URL(fileURLWithPath: $0) },
                corpus: .corpus(corpus, dump: reader, source: sourceVocabulary, target: targetVocabulary))
            let aligner = CrossTokenizerAligner(source: sourceVocabulary, target: targetVocabulary, map: map, method: .dtw)
            var taken = [0, 0], both = 0, positions = 0, exactTexts = 0
            let count = min(texts, min(corpus.textCount, reader.manifest.blockCount))
            for i in 0..<count {
                let teacher = try reader.block(i), tokens = try corpus.targetTokens(ofText: i)
                let dtw = try aligner.align(teacher, targetTokens: tokens)
                // `--alignment offsets` takes the byte-span pairing where the text's spellings add up, else DTW's.
                let exact = OffsetAlignment.compute(sourceTokens: teacher.tokens, targetTokens: tokens, source: sourceVocabulary,
                                                    target: targetVocabulary)
                if exact != nil { exactTexts += 1 }
                let offsets = exact.map { aligner.transform(teacher, targetTokens: tokens, alignment: $0) } ?? dtw
                let rows = [dtw, offsets].map { $0.provenance.map(\.taken) }
                for (m, r) in rows.enumerated() { taken[m] += r.filter { $0 }.count }
                both += zip(rows[0], rows[1]).filter { $0 && $1 }.count
                positions += tokens.count
            }
            let share = { (n: Int) in Double(n) / Double(max(positions, 1)) }
            if json {
                let object: [String: Any] = ["texts": count, "positions": positions, "dtw_one_to_one": share(taken[0]),
                                             "offsets_one_to_one": share(taken[1]), "both": share(both),
                                             "texts_with_exact_offsets": exactTexts]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                return
            }
            print("\(dump) onto \(target): \(count) texts, \(positions) target positions (\(exactTexts) texts spelled to the same bytes)")
            print(String(format: "  dtw      %.2f%% of positions take the source's row", 100 * share(taken[0])))
            print(String(format: "  offsets  %.2f%%", 100 * share(taken[1])))
            print(String(format: "  both     %.2f%%", 100 * share(both)))
        } catch let e as ValidationError {
            throw e
        } catch {
            throw CleanExit(error)
        }
    }
}
