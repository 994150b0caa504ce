import FuseTensor
import Foundation

/// What a fusion function sees of one source for one block: its distributions aligned to the block's target
/// positions and vocabulary, and its CLM cross-entropy on the block (the token-weighted mean over the block's texts)
/// — or, under `--fusion-metric bits-per-byte`, its bits per byte on them (`FusionMetric`): lower is better either way.
public struct TeacherSignal: Sendable {
    public let name: String
    public let distributions: AlignedDistributions
    public let ce: Double

    public init(name: String, distributions: AlignedDistributions, ce: Double) {
        self.name = name
        self.distributions = distributions
        self.ce = ce
    }

    /// The reference's "reward" of a source on a block: exp(−ce).
    public var reward: Double { Foundation.exp(-ce) }
}

/// Turns the sources' aligned distributions for one block into the soft target of the fusion loss.
///
/// By convention `teachers[0]` is the target model's own distribution (the reference's "base"): a row another
/// teacher could not fill (no entries) takes teachers[0]'s row, as the reference's collator does. A new fusion
/// function is one small type conforming to this protocol, registered in `FusionFunctions.make`.
public protocol FusionFunction: Sendable {
    var name: String { get }
    /// The fused targets for the block ([positions] rows), or nil when this function adds no fusion term.
    func fuse(_ teachers: [TeacherSignal]) throws -> SparseTargets?
    /// The share of the fused distribution each teacher gives on the block (summing to 1), or nil when this
    /// function fuses nothing. MinCE gives 1 to the teacher it chose; AvgCE its softmax weights.
    func weights(_ teachers: [TeacherSignal]) throws -> [Double]?
}

public struct FusionError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

enum FusionRows {
    /// Checks that every teacher covers the same positions and has a finite ce.
    static func validate(_ teachers: [TeacherSignal]) throws -> Int {
        guard let first = teachers.first else { throw FusionError("fusion needs at least one teacher") }
        for t in teachers {
            guard t.distributions.positions == first.distributions.positions else {
                throw FusionError("teacher \(t.name) covers \(t.distributions.positions) positions, "
                                  + "\(first.name) \(first.distributions.positions)")
            }
            guard t.ce.isFinite else { throw FusionError("teacher \(t.name) has a non-finite ce (\(t.ce)) on this block") }
        }
        return first.distributions.positions
    }

    /// Weight 1 on teacher `s`, 0 on the others.
    static func oneHot(_ s: Int, count: Int) -> [Double] {
        (0..<count).map { $0 == s ? 1 : 0 }
    }

    /// Softmax over the non-empty entries of row `r` of teacher `s`, falling back to teachers[0]'s row when it
    /// has none. Appends (id, probability × weight) to the output arrays; returns false if both rows are empty.
    @discardableResult
    static func appendSoftmax(of teachers: [TeacherSignal], _ s: Int, row r: Int, weight: Float,
                              ids: inout [Int32], probs: inout [Float]) -> Bool {
        if appendSoftmax(teachers[s].distributions, row: r, weight: weight, ids: &ids, probs: &probs) { return true }
        return s != 0 && appendSoftmax(teachers[0].distributions, row: r, weight: weight, ids: &ids, probs: &probs)
    }

    private static func appendSoftmax(_ d: AlignedDistributions, row r: Int, weight: Float,
                                      ids: inout [Int32], probs: inout [Float]) -> Bool {
        let base = r * d.width
        var m = -Float.infinity
        for j in 0..<d.width where d.ids[base + j] >= 0 { m = max(m, d.logits[base + j]) }
        guard m > -Float.infinity else { return false }
        var sum: Float = 0
        for j in 0..<d.width where d.ids[base + j] >= 0 { sum += expf(d.logits[base + j] - m) }
        for j in 0..<d.width where d.ids[base + j] >= 0 {
            let p = weight * expf(d.logits[base + j] - m) / sum
            let id = d.ids[base + j]
            // Rows hold a few dozen entries at most: a linear search merges the same id from several teachers.
            if let at = ids.firstIndex(of: id) { probs[at] += p } else {
                ids.append(id)
                probs.append(p)
            }
        }
        return true
    }
}
