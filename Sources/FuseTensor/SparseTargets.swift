/// Soft next-token targets on a small support per row (compressed rows): row r's distribution lists
/// `ids[rowStart[r]..<rowStart[r+1]]` with probabilities `probs[…]`. A row with no entries carries no loss.
/// This is what a fused teacher distribution looks like: ≤ k·sources entries out of a vocabulary of tens of
/// thousands, so the loss and its gradient never need a dense vocab-sized target.
public struct SparseTargets: Equatable, Sendable {
    public private(set) var rowStart: [Int32]
    public private(set) var ids: [Int32]
    public private(set) var probs: [Float]

    public var rows: Int { rowStart.count - 1 }

    public init() {
        rowStart = [0]
        ids = []
        probs = []
    }

    public init(rowStart: [Int32], ids: [Int32], probs: [Float]) {
        precondition(rowStart.first == 0 && Int(rowStart.last!) == ids.count && ids.count == probs.count)
        self.rowStart = rowStart
        self.ids = ids
        self.probs = probs
    }

    public mutating func reserve(rows: Int, entries: Int) {
        rowStart.reserveCapacity(rowStart.count + rows)
        ids.reserveCapacity(ids.count + entries)
        probs.reserveCapacity(probs.count + entries)
    }

    /// Appends one row (ids must be distinct).
    public mutating func appendRow(ids rowIDs: some Collection<Int32>, probs rowProbs: some Collection<Float>) {
        precondition(rowIDs.count == rowProbs.count)
        ids.append(contentsOf: rowIDs)
        probs.append(contentsOf: rowProbs)
        rowStart.append(Int32(ids.count))
    }

    public mutating func appendEmptyRow() { rowStart.append(Int32(ids.count)) }

    /// Rows of `other` after these.
    public mutating func append(_ other: SparseTargets) {
        let base = Int32(ids.count)
        ids += other.ids
        probs += other.probs
        rowStart += other.rowStart.dropFirst().map { $0 + base }
    }

    public func row(_ r: Int) -> (ids: ArraySlice<Int32>, probs: ArraySlice<Float>) {
        let range = Int(rowStart[r])..<Int(rowStart[r + 1])
        return (ids[range], probs[range])
    }

    /// Rows with at least one entry: the positions the soft loss is averaged over.
    public var nonEmptyRows: Int {
        var n = 0
        for r in 0..<rows where rowStart[r + 1] > rowStart[r] { n += 1 }
        return n
    }
}
