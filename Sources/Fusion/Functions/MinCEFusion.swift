import FuseTensor

/// MinCE: the whole block takes the distribution of the teacher with the lowest ce (highest reward exp(−ce)).
/// Selection is per block, never per token. Ties go to the earlier teacher (torch.argmax's first maximum), so
/// the target itself wins a tie. The reference compares rewards rounded to bf16; we compare the ce values exactly.
public struct MinCEFusion: FusionFunction {
    public var name: String { "mince" }
    public init() {}

    public func fuse(_ teachers: [TeacherSignal]) throws -> SparseTargets? {
        let positions = try FusionRows.validate(teachers)
        return SingleTeacherFusion.targets(of: teachers, teacher: Self.chosen(teachers), positions: positions)
    }

    public func weights(_ teachers: [TeacherSignal]) throws -> [Double]? {
        _ = try FusionRows.validate(teachers)
        return FusionRows.oneHot(Self.chosen(teachers), count: teachers.count)
    }

    /// The teacher with the lowest ce on the block (the first of equals).
    static func chosen(_ teachers: [TeacherSignal]) -> Int {
        var best = 0
        for s in teachers.indices.dropFirst() where teachers[s].ce < teachers[best].ce { best = s }
        return best
    }
}
