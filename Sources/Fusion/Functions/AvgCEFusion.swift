import FuseTensor
import Foundation

/// AvgCE: per block, weights = softmax over the teachers' rewards exp(−ce) (a softmax of rewards, as the
/// reference computes it, not of −ce), and the fused distribution at every position is the weighted sum of the
/// teachers' distributions (each the softmax over its kept entries); equal ids from several teachers add up.
public struct AvgCEFusion: FusionFunction {
    public var name: String { "avgce" }
    public init() {}

    public static func weights(_ teachers: [TeacherSignal]) -> [Float] {
        let rewards = teachers.map(\.reward)
        let m = rewards.max() ?? 0
        let e = rewards.map { Foundation.exp($0 - m) }
        let sum = e.reduce(0, +)
        return e.map { Float($0 / sum) }
    }

    public func weights(_ teachers: [TeacherSignal]) throws -> [Double]? {
        _ = try FusionRows.validate(teachers)
        return Self.weights(teachers).map(Double.init)
    }

    public func fuse(_ teachers: [TeacherSignal]) throws -> SparseTargets? {
        let positions = try FusionRows.validate(teachers)
        let w = Self.weights(teachers)
        var out = SparseTargets()
        out.reserve(rows: positions, entries: positions * teachers.count * (teachers.first?.distributions.width ?? 0))
        var ids: [Int32] = [], probs: [Float] = []
        for r in 0..<positions {
            ids.removeAll(keepingCapacity: true)
            probs.removeAll(keepingCapacity: true)
            var filled: Float = 0
            for s in teachers.indices where FusionRows.appendSoftmax(of: teachers, s, row: r, weight: w[s],
                                                                     ids: &ids, probs: &probs) {
                filled += w[s]
            }
            // Teachers with nothing at this position (not even the target's fallback) leave their weight to the others.
            if filled > 0 && filled < 1 { for i in probs.indices { probs[i] /= filled } }
            out.appendRow(ids: ids, probs: probs)
        }
        return out
    }
}
