import Foundation

/// FuseChat-2's mapping statistics: over a corpus, how often DTW pairs each source token with each target token
/// (every target position with every source position of its run, one-to-many runs included). The `ms` vocabulary
/// map chooses among a source token's co-aligned target tokens (`MappingStatisticsChoice`).
public struct MappingStatistics: Sendable {
    /// Which corpus the counts are of (the prepared corpus's blocks fingerprint).
    public let corpusFingerprint: String
    /// Co-alignment counts keyed by `key(source:target:)`.
    public private(set) var counts: [UInt64: Int] = [:]
    /// Texts counted.
    public private(set) var textCount = 0

    public init(corpusFingerprint: String) {
        self.corpusFingerprint = corpusFingerprint
    }

    @inline(__always)
    static func key(source: Int32, target: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: source)) << 32 | UInt64(UInt32(bitPattern: target))
    }

    public func count(source: Int32, target: Int32) -> Int { counts[Self.key(source: source, target: target)] ?? 0 }

    /// Adds one text's pairs: target position t with every source position in `alignment.sources[t]`.
    public mutating func add(_ alignment: SequenceAlignment, sourceTokens: [Int32], targetTokens: [Int32]) {
        precondition(alignment.sources.count == targetTokens.count, "alignment of another text")
        for (t, run) in alignment.sources.enumerated() {
            for s in run { counts[Self.key(source: sourceTokens[s], target: targetTokens[t]), default: 0] += 1 }
        }
        textCount += 1
    }

    public mutating func merge(_ other: MappingStatistics) {
        counts.merge(other.counts, uniquingKeysWith: +)
        textCount += other.textCount
    }

    /// Per source id with any pair, its target ids in ascending order with their counts.
    public func candidatesBySource() -> [Int32: [(target: Int32, count: Int)]] {
        var out: [Int32: [(target: Int32, count: Int)]] = [:]
        for (key, count) in counts {
            out[Int32(bitPattern: UInt32(key >> 32)), default: []].append((Int32(bitPattern: UInt32(key & 0xFFFF_FFFF)), count))
        }
        for s in out.keys { out[s]!.sort { $0.target < $1.target } }
        return out
    }

    /// Counts every text of a corpus: `tokens(i)` gives text i's source and target tokenizations (read in order, on
    /// the calling thread); DTW runs on `Parallel.threads` workers, a batch of texts at a time. `progress` is called
    /// after each batch with the texts done.
    public static func collect(corpusFingerprint: String, textCount: Int, distance: TokenDistance, threads: Int,
                               tokens: (Int) throws -> (source: [Int32], target: [Int32]),
                               progress: ((Int) -> Void)? = nil) throws -> MappingStatistics {
        var total = MappingStatistics(corpusFingerprint: corpusFingerprint)
        let batchSize = 64, workers = max(1, threads)
        var start = 0
        while start < textCount {
            let batch = try (start..<min(start + batchSize, textCount)).map { try tokens($0) }
            var partial = [MappingStatistics](repeating: MappingStatistics(corpusFingerprint: corpusFingerprint), count: workers)
            partial.withUnsafeMutableBufferPointer { parts in
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    for i in stride(from: w, to: batch.count, by: workers) {
                        let (s, t) = batch[i]
                        let alignment = SequenceAlignment.compute(sourceTokens: s, targetTokens: t, distance: distance)
                        parts[w].add(alignment, sourceTokens: s, targetTokens: t)
                    }
                }
            }
            for p in partial { total.merge(p) }
            start += batch.count
            progress?(start)
        }
        return total
    }
}
