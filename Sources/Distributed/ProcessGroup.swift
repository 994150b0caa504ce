import Foundation

/// The processes that train (or dump) together: a rank, how many there are, and the collective operations data
/// parallelism needs. One process alone is `SingleProcess`; under `mpirun` or `srun` it is `MPIProcessGroup`.
/// Every rank must make the same collective calls in the same order (MPI's rule).
public protocol ProcessGroup: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `values[0..<count]` by its sum over all ranks (in place; Float32, as the gradients are).
    func sumInPlace(_ values: UnsafeMutablePointer<Float>, count: Int)
    /// The element-wise sum over all ranks.
    func sum(_ values: [Double]) -> [Double]
    /// The element-wise minimum and maximum over all ranks (checks that every rank agrees).
    func minMax(_ values: [Double]) -> (min: [Double], max: [Double])
    /// Every rank's `data`, in rank order, on every rank.
    func allGather(_ data: Data) -> [Data]
    func barrier()
    /// Stops every rank (MPI_Abort): for an error on one rank, which would leave the others waiting in a collective.
    func abort(code: Int32) -> Never
    /// Seconds spent in `sumInPlace` so far (the gradient allreduce), for metrics and benchmarks.
    var reduceSeconds: Double { get }
}

extension ProcessGroup {
    public var isFirst: Bool { rank == 0 }
    /// "rank 1 of 2: " under a launcher, "" alone: the prefix of messages only some ranks print.
    public var label: String { size > 1 ? "rank \(rank) of \(size): " : "" }
}

/// One process: every collective is the identity.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sumInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {}
    public func sum(_ values: [Double]) -> [Double] { values }
    public func minMax(_ values: [Double]) -> (min: [Double], max: [Double]) { (values, values) }
    public func allGather(_ data: Data) -> [Data] { [data] }
    public func barrier() {}
    public func abort(code: Int32) -> Never { exit(code) }
    public var reduceSeconds: Double { 0 }
}
