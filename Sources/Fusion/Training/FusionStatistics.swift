import Distributed
import Foundation

/// What the fusion did on the blocks since the last reset, per source: the weight the fusion function gave it
/// (and which source it chose per block), its ce, how many target rows DTW paired one-to-one with one of its
/// tokens, and how its top-k entries on those rows reached the target vocabulary (exact match, edit distance,
/// dropped). The trainer writes one of these per logged step into metrics.jsonl (docs/fusion.md).
public struct FusionStatistics: Sendable, Codable, Equatable {
    public struct Source: Sendable, Equatable, Codable {
        public let name: String
        /// Sum over blocks of the weight the fusion gave this source (MinCE: 1 on the blocks it chose it).
        public var weightSum = 0.0
        /// Blocks on which this source had the largest weight (MinCE: was chosen; ties go to the earlier source).
        public var chosen = 0
        public var ceSum = 0.0
        /// Target rows seen, and those that took this source's own row (one-to-one and matching tokens).
        public var rows = 0
        public var oneToOne = 0
        /// This source's top-k entries on one-to-one rows, by how they were mapped.
        public var exact = 0
        public var edited = 0
        public var dropped = 0

        public init(name: String) { self.name = name }

        public var entries: Int { exact + edited + dropped }
    }

    public private(set) var sources: [Source]
    public private(set) var blocks = 0
    /// The chosen source's index per block, in the order the blocks were fused.
    public private(set) var choices: [Int] = []

    public init(sourceNames: [String]) {
        sources = sourceNames.map(Source.init)
    }

    /// Adds one block: every source's signal on it and the fusion's weights (nil: the function fuses nothing).
    public mutating func record(_ signals: [TeacherSignal], weights: [Double]?) {
        precondition(signals.count == sources.count, "\(signals.count) signals for \(sources.count) sources")
        blocks += 1
        if let weights {
            var best = 0
            for s in weights.indices where weights[s] > weights[best] { best = s }
            choices.append(best)
            sources[best].chosen += 1
            for s in weights.indices { sources[s].weightSum += weights[s] }
        }
        for (s, signal) in signals.enumerated() {
            sources[s].ceSum += signal.ce
            for row in signal.distributions.provenance {
                sources[s].rows += 1
                guard row.taken else { continue }
                sources[s].oneToOne += 1
                sources[s].exact += Int(row.exact)
                sources[s].edited += Int(row.edited)
                sources[s].dropped += Int(row.dropped)
            }
        }
    }

    /// Every rank's statistics since the last call, joined on every rank (a collective: all ranks call it). The
    /// chosen sources go back into the order one process would have fused the blocks in: ranks take micro-batches
    /// of `blocksPerMicroBatch` blocks in turn (rank r has micro-batches r, r + N, …).
    public static func gathered(_ mine: FusionStatistics, group: ProcessGroup, blocksPerMicroBatch: Int) throws -> FusionStatistics {
        guard group.size > 1 else { return mine }
        let parts = try group.allGather(JSONEncoder().encode(mine)).map { try JSONDecoder().decode(FusionStatistics.self, from: $0) }
        var all = mine
        all.blocks = parts.reduce(0) { $0 + $1.blocks }
        for s in all.sources.indices {
            all.sources[s] = Source(name: all.sources[s].name)
            for p in parts {
                let o = p.sources[s]
                all.sources[s].weightSum += o.weightSum
                all.sources[s].chosen += o.chosen
                all.sources[s].ceSum += o.ceSum
                all.sources[s].rows += o.rows
                all.sources[s].oneToOne += o.oneToOne
                all.sources[s].exact += o.exact
                all.sources[s].edited += o.edited
                all.sources[s].dropped += o.dropped
            }
        }
        all.choices = []
        var next = [Int](repeating: 0, count: parts.count)
        let b = max(blocksPerMicroBatch, 1)
        while next.indices.contains(where: { next[$0] < parts[$0].choices.count }) {
            for (r, p) in parts.enumerated() where next[r] < p.choices.count {
                all.choices += p.choices[next[r]..<min(next[r] + b, p.choices.count)]
                next[r] += b
            }
        }
        return all
    }

    public mutating func reset() {
        self = FusionStatistics(sourceNames: sources.map(\.name))
    }

    /// The metrics.jsonl form: `{"blocks", "chosen": [name per block], "sources": [{"name", "weight" (mean over
    /// blocks), "chosen" (blocks), "ce" (mean block ce), "rows", "one_to_one" (share of rows), "entries",
    /// "exact", "edited", "dropped" (shares of entries)}]}`; counts let a reader weigh lines when it sums them.
    public var jsonObject: [String: Any] {
        let n = Double(max(blocks, 1))
        func share(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(a) / Double(b) : 0 }
        return [
            "blocks": blocks,
            "chosen": choices.map { sources[$0].name },
            "sources": sources.map { s -> [String: Any] in
                ["name": s.name, "weight": s.weightSum / n, "chosen": s.chosen, "ce": s.ceSum / n, "rows": s.rows,
                 "one_to_one": share(s.oneToOne, s.rows), "entries": s.entries, "exact": share(s.exact, s.entries),
                 "edited": share(s.edited, s.entries), "dropped": share(s.dropped, s.entries)]
            },
        ]
    }
}
