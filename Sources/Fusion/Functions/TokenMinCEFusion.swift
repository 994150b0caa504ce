import FuseTensor

/// Token-level MinCE (`mince-token`): per target position, the distribution of the source whose cross-entropy on
/// the token it paired with that position is lowest (the reference's MinCE chooses once per sequence). A source
/// whose row at a position is not its own (a one-hot, no pairing) does not compete there; where none does, the
/// target's own row is taken. Ties go to the earlier source, so the target wins them. Needs dumps that keep each
/// position's ce (qgap dumps, `TeacherText.tokenCE`).
public struct TokenMinCEFusion: FusionFunction {
    public var name: String { "mince-token" }
    public init() {}

    public func fuse(_ teachers: [TeacherSignal]) throws -> SparseTargets? {
        let positions = try FusionRows.validate(teachers)
        let winners = try Self.winners(teachers, positions: positions)
        var out = SparseTargets()
        out.reserve(rows: positions, entries: positions * (teachers.map(\.distributions.width).max() ?? 1))
        var ids: [Int32] = [], probs: [Float] = []
        for r in 0..<positions {
            ids.removeAll(keepingCapacity: true)
            probs.removeAll(keepingCapacity: true)
            FusionRows.appendSoftmax(of: teachers, winners[r], row: r, weight: 1, ids: &ids, probs: &probs)
            out.appendRow(ids: ids, probs: probs)
        }
        return out
    }

    /// The share of the block's positions each teacher won.
    public func weights(_ teachers: [TeacherSignal]) throws -> [Double]? {
        let positions = try FusionRows.validate(teachers)
        var counts = [Double](repeating: 0, count: teachers.count)
        for w in try Self.winners(teachers, positions: positions) { counts[w] += 1 }
        return counts.map { $0 / Double(max(positions, 1)) }
    }

    static func winners(_ teachers: [TeacherSignal], positions: Int) throws -> [Int] {
        for t in teachers where t.distributions.rowCE.count != positions {
            throw FusionError("mince-token needs each position's ce, which \(t.name)'s dump does not keep "
                              + "(dump it again with --encoding qgap)")
        }
        return (0..<positions).map { r in
            var best = 0
            var bestCE = teachers[0].distributions.rowCE[r]
            for s in teachers.indices.dropFirst() {
                let ce = teachers[s].distributions.rowCE[r]
                if ce < bestCE || (bestCE.isNaN && !ce.isNaN) { (best, bestCE) = (s, ce) }
            }
            return best
        }
    }
}
