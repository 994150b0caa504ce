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
    /// [positions]: where each row came from (the fusion statistics of metrics.jsonl count these).
    public var provenance: [RowProvenance]
    /// [positions] or empty: the source's cross-entropy on the token it paired with each row (NaN where the row is
    /// not the source's own), for token-level MinCE; empty when the dump keeps no per-token ce.
    public var rowCE: [Float] = []

    /// Rows taken as they are from a source with the target's own vocabulary (every non-empty entry an exact match).
    public init(positions: Int, width: Int, ids: [Int32], logits: [Float]) {
        self.init(positions: positions, width: width, ids: ids, logits: logits,
                  provenance: (0..<positions).map { r in
                      RowProvenance(taken: true, exact: ids[r * width..<(r + 1) * width].reduce(0) { $0 + ($1 >= 0 ? 1 : 0) },
                                    sourceRow: r)
                  })
    }

    public init(positions: Int, width: Int, ids: [Int32], logits: [Float], provenance: [RowProvenance]) {
        precondition(ids.count == positions * width && logits.count == ids.count && provenance.count == positions)
        self.positions = positions
        self.width = width
        self.ids = ids
        self.logits = logits
        self.provenance = provenance
    }

    /// Rows [range] as a new value (a block covers slices of several texts).
    public func slice(_ range: Range<Int>) -> AlignedDistributions {
        var part = AlignedDistributions(positions: range.count, width: width,
                                        ids: Array(ids[range.lowerBound * width..<range.upperBound * width]),
                                        logits: Array(logits[range.lowerBound * width..<range.upperBound * width]),
                                        provenance: Array(provenance[range]))
        if !rowCE.isEmpty { part.rowCE = Array(rowCE[range]) }
        return part
    }

    /// Rows of several values one after the other (same width).
    public static func concatenate(_ parts: [AlignedDistributions]) -> AlignedDistributions {
        let width = parts.first?.width ?? 0
        precondition(parts.allSatisfy { $0.width == width }, "concatenating distributions of different widths")
        var joined = AlignedDistributions(positions: parts.reduce(0) { $0 + $1.positions }, width: width,
                                          ids: parts.flatMap(\.ids), logits: parts.flatMap(\.logits),
                                          provenance: parts.flatMap(\.provenance))
        if parts.allSatisfy({ !$0.rowCE.isEmpty || $0.positions == 0 }) { joined.rowCE = parts.flatMap(\.rowCE) }
        return joined
    }
}

/// How one target row got its entries from a source.
public struct RowProvenance: Equatable, Sendable {
    /// The row is the source's own row: DTW paired the target position with exactly one source position and the
    /// two tokens match. Otherwise the row is a one-hot (or empty) and the source's entries there are not used.
    public var taken: Bool
    /// Of the source's top-k entries on a taken row: mapped to a target id by exact match of the normalised
    /// strings, by minimum edit distance (MinED), or dropped (no target id under EM, or an id already in the row).
    public var exact: Int32
    public var edited: Int32
    public var dropped: Int32
    /// The source position a taken row came from (−1 for a one-hot row): where its per-token ce is.
    public var sourceRow: Int32

    public init(taken: Bool, exact: Int = 0, edited: Int = 0, dropped: Int = 0, sourceRow: Int = -1) {
        self.taken = taken
        self.exact = Int32(exact)
        self.edited = Int32(edited)
        self.dropped = Int32(dropped)
        self.sourceRow = Int32(sourceRow)
    }
}
