/// One source's next-token distributions on a run of target positions, in the target vocabulary.
/// Row t is the distribution for predicting target token t+1 (the TeacherText convention).
public struct AlignedDistributions: Equatable, Sendable {
    /// Number of target positions.
    public let positions: Int
    /// Entries per position (k).
    public let width: Int
    /// [positions × width] target token ids; -1 marks an empty slot.
    public var ids: [Int32]
    /// [positions × width]; the teacher distribution at a position is the softmax over its non-empty
    /// entries (temperature 1).
    public var logits: [Float]

    public init(positions: Int, width: Int, ids: [Int32], logits: [Float]) {
        precondition(ids.count == positions * width && logits.count == ids.count)
        self.positions = positions
        self.width = width
        self.ids = ids
        self.logits = logits
    }

    /// Rows [range] as a new value (a block covers slices of several texts).
    public func slice(_ range: Range<Int>) -> AlignedDistributions {
        AlignedDistributions(positions: range.count, width: width,
                             ids: Array(ids[range.lowerBound * width..<range.upperBound * width]),
                             logits: Array(logits[range.lowerBound * width..<range.upperBound * width]))
    }

    /// Rows of several values one after the other (same width).
    public static func concatenate(_ parts: [AlignedDistributions]) -> AlignedDistributions {
        let width = parts.first?.width ?? 0
        precondition(parts.allSatisfy { $0.width == width }, "concatenating distributions of different widths")
        return AlignedDistributions(positions: parts.reduce(0) { $0 + $1.positions }, width: width,
                                    ids: parts.flatMap(\.ids), logits: parts.flatMap(\.logits))
    }
}
