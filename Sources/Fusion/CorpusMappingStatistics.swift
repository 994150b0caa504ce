import FuseFormats
import Foundation
import FuseTensor

extension MappingStatisticsSource {
    /// The co-alignments of a source's dump with the target's tokens of the same prepared texts (every text), for the
    /// `ms` map. Progress (texts, rate, ETA) goes to standard error every few seconds on corpora that take that long.
    public static func corpus(_ prepared: PreparedCorpus, dump: TeacherDumpReader, source: NormalizedVocabulary,
                              target: NormalizedVocabulary) -> MappingStatisticsSource {
        MappingStatisticsSource(corpusFingerprint: prepared.blocksFingerprint) {
            // The counts pair the dump's tokens with the target's tokens of the same texts.
            try dump.check(tokenizerFingerprint: source.fingerprint, blocksFingerprint: prepared.blocksFingerprint,
                           blockCount: prepared.textCount)
            let started = Date()
            var reported = started
            let total = prepared.textCount
            return try MappingStatistics.collect(
                corpusFingerprint: prepared.blocksFingerprint, textCount: total,
                distance: TokenDistance(source: source, target: target), threads: Parallel.threads,
                tokens: { i in (try dump.block(i).tokens, try prepared.targetTokens(ofText: i)) },
                progress: { done in
                    let now = Date()
                    guard now.timeIntervalSince(reported) >= 5 || (done == total && now.timeIntervalSince(started) >= 5) else { return }
                    reported = now
                    let rate = Double(done) / max(now.timeIntervalSince(started), 1e-9)
                    FileHandle.standardError.write(Data(String(
                        format: "ms statistics: %d/%d texts, %.1f texts/s, ETA %.0f s\n", done, total, rate,
                        Double(total - done) / max(rate, 1e-9)).utf8))
                })
        }
    }
}
