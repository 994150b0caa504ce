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
        abstract: "Map every source token to a target token (EM or MinED; rules in docs/alignment.md), cached per tokenizer pair.")

    @Option(help: "Source tokenizer: model directory, .gguf, tokenizer.json or tokenizer.model.") var source: String
    @Option(help: "Target tokenizer: model directory, .gguf, tokenizer.json or tokenizer.model.") var target: String
    @Option(help: "mined (exact match, else minimum edit distance) or em (exact match only).") var method = "mined"
    @Option(help: "Directory of cached maps (read when present, written when built).") var cache: String?
    @Option(help: "Also write the map as JSON (ids, distances, token strings of the inexact ones).") var output: String?
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard VocabularyMethod(name: method) != nil else { throw ValidationError("--method must be mined or em, not \(method)") }
    }

    func run() throws {
        compute.apply()
        do {
            let method = VocabularyMethod(name: method)!
            let sourceVocab = NormalizedVocabulary(try BPETokenizer.load(path: source))
            let targetVocab = NormalizedVocabulary(try BPETokenizer.load(path: target))
            let start = DispatchTime.now().uptimeNanoseconds
            let (map, cached) = try VocabularyMapCache.loadOrBuild(
                source: sourceVocab, target: targetVocab, method: method, directory: cache.map { URL(fileURLWithPath: $0) })
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            print("source  \(source): \(sourceVocab.count) tokens, \(sourceVocab.spelling.rawValue), \(sourceVocab.fingerprint)")
            print("target  \(target): \(targetVocab.count) tokens, \(targetVocab.spelling.rawValue), \(targetVocab.fingerprint)")
            print("method  \(method.rawValue)\(cached ? " (from cache)" : "")")
            print("exact matches  \(map.exactCount)")
            print("MinED-mapped   \(map.minEDCount)")
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
            "exact": map.exactCount, "mined": map.minEDCount, "unmapped": map.unmappedCount,
            "target_ids": map.targetIDs.map(Int.init), "distances": map.distances.map(Int.init), "inexact": inexact,
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
