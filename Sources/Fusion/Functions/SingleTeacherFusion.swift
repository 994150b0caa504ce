import FuseTensor

/// Distillation from one named teacher (the paper's "distill one source" baseline).
public struct SingleTeacherFusion: FusionFunction {
    public let teacherName: String
    public var name: String { "single:\(teacherName)" }
    public init(teacherName: String) { self.teacherName = teacherName }

    public func fuse(_ teachers: [TeacherSignal]) throws -> SparseTargets? {
        let positions = try FusionRows.validate(teachers)
        return Self.targets(of: teachers, teacher: try index(in: teachers), positions: positions)
    }

    public func weights(_ teachers: [TeacherSignal]) throws -> [Double]? {
        _ = try FusionRows.validate(teachers)
        return FusionRows.oneHot(try index(in: teachers), count: teachers.count)
    }

    private func index(in teachers: [TeacherSignal]) throws -> Int {
        guard let s = teachers.firstIndex(where: { $0.name == teacherName }) else {
            throw FusionError("no teacher named \(teacherName) among \(teachers.map(\.name).joined(separator: ", "))")
        }
        return s
    }

    static func targets(of teachers: [TeacherSignal], teacher s: Int, positions: Int) -> SparseTargets {
        var out = SparseTargets()
        out.reserve(rows: positions, entries: positions * teachers[s].distributions.width)
        var ids: [Int32] = [], probs: [Float] = []
        for r in 0..<positions {
            ids.removeAll(keepingCapacity: true)
            probs.removeAll(keepingCapacity: true)
            FusionRows.appendSoftmax(of: teachers, s, row: r, weight: 1, ids: &ids, probs: &probs)
            out.appendRow(ids: ids, probs: probs)
        }
        return out
    }
}

/// No fusion term: plain causal-LM continual training (the paper's "CLM only" baseline).
public struct NoFusion: FusionFunction {
    public var name: String { "none" }
    public init() {}
    public func fuse(_ teachers: [TeacherSignal]) throws -> SparseTargets? { nil }
    public func weights(_ teachers: [TeacherSignal]) throws -> [Double]? { nil }
}

public enum FusionFunctions {
    public static let names = ["mince", "mince-token", "avgce", "none", "single:NAME"]

    /// "mince", "avgce", "none", or "single:NAME" (distil the teacher called NAME).
    public static func make(_ spec: String) throws -> any FusionFunction {
        switch spec.lowercased() {
        case "mince", "min-ce", "minimum-ce": return MinCEFusion()
        case "mince-token": return TokenMinCEFusion()
        case "avgce", "avg-ce", "average-ce": return AvgCEFusion()
        case "none", "clm": return NoFusion()
        default:
            if spec.hasPrefix("single:"), spec.count > 7 { return SingleTeacherFusion(teacherName: String(spec.dropFirst(7))) }
            throw FusionError("unknown fusion function \(spec); expected one of \(names.joined(separator: ", "))")
        }
    }
}
