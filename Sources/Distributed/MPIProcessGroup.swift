import Foundation

/// A process group over MPI_COMM_WORLD (Open MPI, loaded at run time). Errors inside MPI are fatal to the job
/// (MPI_ERRORS_ARE_FATAL, the default on MPI_COMM_WORLD), so a dead rank stops the others instead of hanging them.
public final class MPIProcessGroup: ProcessGroup {
    private let mpi: OpenMPILibrary
    public let rank: Int
    public let size: Int
    public private(set) var reduceSeconds = 0.0
    /// The gradient allreduce goes in buckets of this many floats: MPI counts are 32-bit, and one bucket bounds
    /// the scratch memory MPI allocates for it.
    public static let bucketFloats = 1 << 24
    private var finished = false

    /// Initialises MPI (once per process) and joins MPI_COMM_WORLD.
    init(library: OpenMPILibrary) throws {
        mpi = library
        var already: Int32 = 0
        _ = mpi.initialized(&already)
        if already == 0 {
            var provided: Int32 = 0
            let rc = mpi.initThread(nil, nil, OpenMPILibrary.threadSerialized, &provided)
            guard rc == 0 else { throw OpenMPILibrary.LoadError(description: "MPI_Init_thread failed (error \(rc))") }
        }
        var r: Int32 = 0, n: Int32 = 0
        _ = mpi.commRank(mpi.commWorld, &r)
        _ = mpi.commSize(mpi.commWorld, &n)
        rank = Int(r)
        size = Int(n)
    }

    private func check(_ rc: Int32, _ what: String) {
        if rc != 0 {
            FileHandle.standardError.write(Data("rank \(rank) of \(size): \(what) failed (MPI error \(rc))\n".utf8))
            abort(code: 1)
        }
    }

    public func sumInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let began = DispatchTime.now().uptimeNanoseconds
        var offset = 0
        while offset < count {
            let n = min(Self.bucketFloats, count - offset)
            check(mpi.allreduce(OpenMPILibrary.inPlace, values + offset, Int32(n), mpi.float, mpi.sum, mpi.commWorld), "MPI_Allreduce")
            offset += n
        }
        reduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
    }

    private func reduce(_ values: [Double], _ op: OpenMPILibrary.Handle) -> [Double] {
        var out = values
        guard !out.isEmpty else { return out }
        out.withUnsafeMutableBytes { buffer in
            check(mpi.allreduce(OpenMPILibrary.inPlace, buffer.baseAddress, Int32(values.count), mpi.double, op, mpi.commWorld),
                  "MPI_Allreduce")
        }
        return out
    }

    public func sum(_ values: [Double]) -> [Double] { reduce(values, mpi.sum) }

    public func minMax(_ values: [Double]) -> (min: [Double], max: [Double]) { (reduce(values, mpi.min), reduce(values, mpi.max)) }

    /// Lengths first (the largest sets the slot size), then one MPI_Allgather of equal slots.
    public func allGather(_ data: Data) -> [Data] {
        let lengths = allGatherLengths(data.count)
        let slot = max(lengths.max() ?? 0, 1)
        var send = [UInt8](repeating: 0, count: slot)
        send.replaceSubrange(0..<data.count, with: data)
        var receive = [UInt8](repeating: 0, count: slot * size)
        send.withUnsafeBytes { s in
            receive.withUnsafeMutableBytes { r in
                check(mpi.allgather(s.baseAddress, Int32(slot), mpi.byte, r.baseAddress, Int32(slot), mpi.byte, mpi.commWorld),
                      "MPI_Allgather")
            }
        }
        return (0..<size).map { Data(receive[($0 * slot)..<($0 * slot + lengths[$0])]) }
    }

    private func allGatherLengths(_ length: Int) -> [Int] {
        var mine = [Double](repeating: 0, count: size)
        mine[rank] = Double(length)
        return sum(mine).map { Int($0) }
    }

    public func barrier() { check(mpi.barrier(mpi.commWorld), "MPI_Barrier") }

    public func abort(code: Int32) -> Never {
        _ = mpi.abort(mpi.commWorld, code)
        exit(code)  // MPI_Abort does not return; this is for the compiler
    }

    /// MPI_Finalize; every rank calls it once, after its last collective (Open MPI reports ranks that exit without it).
    public func finish() {
        guard !finished else { return }
        finished = true
        var done: Int32 = 0
        _ = mpi.finalized(&done)
        if done == 0 { _ = mpi.finalize() }
    }
}
