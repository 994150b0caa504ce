import FuseFormats
import FuseText
import Foundation
import Llama

/// Everything `fusellm train --prepared … --teachers …` checks before the first step: the prepared blocks were
/// made with the target's tokenizer, every dump was made from those blocks with its own tokenizer, the target's
/// own dump is there, no dump holds NaN; then one aligner per source and the soft-target builder.
public struct FusionSetup {
    public let builder: FusedTargetBuilder
    public let teacherNames: [String]

    public static func make(prepared: PreparedCorpus, target: BPETokenizer, teachers: [String], fusion: any FusionFunction,
                     method: VocabularyMethod, oneHot: OneHotPlacement, cache: URL?,
                            topK: Int? = nil, metric: FusionMetric = .ce, alignment: AlignmentMethod = .dtw) throws -> FusionSetup {
        try prepared.checkTarget(target)
        guard prepared.blockCount > 0 else {
            throw FormatError(url: prepared.directory, "holds no complete block: nothing to train on")
        }
        let targetVocabulary = NormalizedVocabulary(target)
        var sources: [FusedTargetBuilder.Source] = []
        var targetIndex: Int?
        for path in teachers {
            let directory = URL(fileURLWithPath: path)
            guard FileManager.default.fileExists(atPath: directory.path) else {
                throw FormatError(url: directory, "no such teacher dump (run fusellm dump --output \(path))")
            }
            let dump = try TeacherDumpReader(directory: directory)
            let tokenizer = try DumpTokenizerFile.load(directory)
            try dump.check(tokenizerFingerprint: tokenizer.fingerprint, blocksFingerprint: prepared.blocksFingerprint,
                           blockCount: prepared.textCount)
            if let wanted = try DumpTokenizerFile.addsBOS(directory) {
                try dump.check(bosPrepended: wanted)
            }
            try scanForNonFiniteValues(dump)
            let name = directory.standardizedFileURL.lastPathComponent
            let aligner: any TextAligner
            if tokenizer.fingerprint == target.fingerprint {
                if targetIndex == nil { targetIndex = sources.count }
                aligner = IdentityAligner()
            } else {
                let sourceVocabulary = NormalizedVocabulary(tokenizer)
                let started = Date()
                let (map, cached) = try VocabularyMapCache.loadOrBuild(
                    source: sourceVocabulary, target: targetVocabulary, method: method, directory: cache,
                    corpus: .corpus(prepared, dump: dump, source: sourceVocabulary, target: targetVocabulary))
                FileHandle.standardError.write(Data(String(
                    format: "%@: %@ vocabulary map %@ (%d exact, %d inexact, %d unmapped, %.1f s)\n", name, method.rawValue,
                    cached ? "from cache" : "built", map.exactCount, map.inexactCount, map.unmappedCount,
                    Date().timeIntervalSince(started)).utf8))
                aligner = CrossTokenizerAligner(source: sourceVocabulary, target: targetVocabulary, map: map, oneHot: oneHot,
                                                method: alignment)
            }
            sources.append(.init(name: name, dump: dump, aligner: aligner))
        }
        if !(fusion is NoFusion) {
            guard let t = targetIndex else {
                throw FusionError("none of the teachers was made with the target's tokenizer: the target's own dump is "
                                    + "needed (the target counts as a source); run fusellm dump --model TARGET")
            }
            sources.insert(sources.remove(at: t), at: 0)
        }
        let builder = try FusedTargetBuilder(layout: prepared, sources: sources, fusion: fusion, topK: topK, metric: metric)
        return FusionSetup(builder: builder, teacherNames: sources.map(\.name))
    }

    /// A NaN or infinite ce or log-probability anywhere in a dump stops the run before it starts.
    public static func scanForNonFiniteValues(_ dump: TeacherDumpReader) throws {
        for i in 0..<dump.manifest.blockCount {
            let b = try dump.block(i)
            guard b.ce.isFinite, b.topLogProbs.allSatisfy({ !$0.isNaN }) else {
                throw FormatError(url: dump.directory, item: "text \(i)",
                                  "holds a non-finite ce (\(b.ce)) or NaN log-probabilities; re-run fusellm dump for it")
            }
        }
    }
}
