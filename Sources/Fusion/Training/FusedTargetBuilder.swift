import FuseTensor
import Foundation

/// Builds the fusion loss's soft targets of a training block: for every source, the dumped distributions of
/// the texts the block covers, aligned to the target's tokens and vocabulary, sliced to the block and joined;
/// the source's block score is the token-weighted mean of its texts' scores (as the reference's packing computes
/// the ce; `metric` picks ce per token or bits per byte); then the fusion function combines the sources.
public final class FusedTargetBuilder: @unchecked Sendable {
    public struct Source {
        public let name: String
        public let dump: TeacherDumpReader
        public let aligner: any TextAligner

        public init(name: String, dump: TeacherDumpReader, aligner: any TextAligner) {
            self.name = name
            self.dump = dump
            self.aligner = aligner
        }
    }

    public let layout: any BlockLayout
    public let sources: [Source]
    public let fusion: any FusionFunction
    /// When set, each source keeps only its `topK` most likely tokens per position (at most what it dumped).
    public let topK: Int?
    /// How a text's loss scores a source (`TeacherSignal.ce` carries the block's score).
    public let metric: FusionMetric
    private var cache: [Key: (AlignedDistributions, ce: Double)] = [:]
    private var cacheOrder: [Key] = []
    private let cacheLimit: Int
    private let lock = NSLock()
    private var statistics: FusionStatistics

    private struct Key: Hashable {
        let source: Int
        let text: Int
    }

    /// `sources[0]` is the target's own dump (the reference's base distribution).
    public init(layout: any BlockLayout, sources: [Source], fusion: any FusionFunction, topK: Int? = nil,
                metric: FusionMetric = .ce, cachedTexts: Int = 256) throws {
        guard !sources.isEmpty else { throw FusionError("fused training needs at least the target's own dump") }
        if let topK {
            guard topK >= 1 else { throw FusionError("top-k must be at least 1, not \(topK)") }
            for s in sources where s.dump.manifest.k < topK {
                throw FusionError("\(s.name) (\(s.dump.directory.path)) was dumped with k = \(s.dump.manifest.k); "
                                  + "top-k \(topK) needs a dump with k >= \(topK)")
            }
        }
        self.topK = topK
        self.metric = metric
        self.layout = layout
        self.sources = sources
        self.fusion = fusion
        cacheLimit = max(cachedTexts, 4 * sources.count)
        statistics = FusionStatistics(sourceNames: sources.map(\.name))
    }

    /// The fused soft targets of `block` ([blockSize] rows), or nil when the fusion function adds no term.
    /// Each call adds the block to `statistics`.
    public func targets(block: Int) throws -> SparseTargets? {
        guard !(fusion is NoFusion) else { return nil }
        let teachers = try signals(block: block)
        let weights = try fusion.weights(teachers)
        lock.lock()
        statistics.record(teachers, weights: weights)
        lock.unlock()
        return try fusion.fuse(teachers)
    }

    /// What the fusion did on the blocks since the last call (metrics.jsonl's `fusion` entry), and a fresh start.
    public func takeStatistics() -> FusionStatistics {
        lock.lock()
        defer { lock.unlock() }
        let taken = statistics
        statistics.reset()
        return taken
    }

    /// Every source's aligned distributions and ce on `block`.
    public func signals(block: Int) throws -> [TeacherSignal] {
        let spans = try layout.spans(ofBlock: block)
        guard spans.reduce(0, { $0 + $1.tokens.count }) == layout.blockSize else {
            throw FusionError("block \(block): its texts cover \(spans.reduce(0) { $0 + $1.tokens.count }) tokens, not \(layout.blockSize)")
        }
        return try sources.indices.map { s in
            var parts: [AlignedDistributions] = []
            var ceSum = 0.0
            for span in spans {
                let (aligned, ce) = try alignedText(source: s, text: span.text)
                guard span.tokens.upperBound <= aligned.positions else {
                    throw FusionError("\(sources[s].name): text \(span.text) has \(aligned.positions) aligned positions, "
                                      + "block \(block) needs tokens \(span.tokens)")
                }
                parts.append(aligned.slice(span.tokens))
                ceSum += ce * Double(span.tokens.count)
            }
            return TeacherSignal(name: sources[s].name, distributions: .concatenate(parts),
                                 ce: ceSum / Double(layout.blockSize))
        }
    }

    private func alignedText(source s: Int, text: Int) throws -> (AlignedDistributions, ce: Double) {
        let key = Key(source: s, text: text)
        lock.lock()
        if let hit = cache[key] { lock.unlock(); return hit }
        lock.unlock()
        let dumped = try sources[s].dump.block(text)
        let teacher = topK.map { dumped.keepingTop($0) } ?? dumped
        guard teacher.ce.isFinite else {
            throw FusionError("\(sources[s].name) (\(sources[s].dump.directory.path)): text \(text) has a non-finite ce (\(teacher.ce))")
        }
        guard teacher.topLogProbs.allSatisfy({ !$0.isNaN }) else {
            throw FusionError("\(sources[s].name) (\(sources[s].dump.directory.path)): text \(text) holds NaN log-probabilities")
        }
        var aligned = try sources[s].aligner.align(teacher, targetTokens: layout.targetTokens(ofText: text))
        if let tokenCE = teacher.tokenCE {  // each taken row's ce on the source token it came from
            aligned.rowCE = aligned.provenance.map { p in p.taken && p.sourceRow >= 0 ? tokenCE[Int(p.sourceRow)] : .nan }
        }
        let score = try metric.score(teacher) { try layout.byteCount(ofText: text) }
        let value = (aligned, ce: score)
        lock.lock()
        defer { lock.unlock() }
        cache[key] = value
        cacheOrder.append(key)
        // Blocks are visited in shuffled order, so a small FIFO is as good as an LRU here; it keeps memory bounded.
        if cacheOrder.count > cacheLimit {
            cache[cacheOrder.removeFirst()] = nil
        }
        return value
    }
}
