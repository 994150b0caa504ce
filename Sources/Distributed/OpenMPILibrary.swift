import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Open MPI's C API, loaded at run time with dlopen — fusellm links no MPI at build time, so one binary runs
/// alone on a laptop and under `mpirun`/`srun` on a cluster (docs/distributed.md says why). Open MPI's handles
/// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are the addresses of exported objects, which dlsym gives; its ABI has
/// been stable as libmpi.so.40 from 3.0 through 5.x. MPICH-derived libraries use integer handles and are refused.
struct OpenMPILibrary {
    typealias Handle = UnsafeMutableRawPointer
    typealias InitThread = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?, Int32,
                                           UnsafeMutablePointer<Int32>) -> Int32
    typealias CommQuery = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
    typealias Allgather = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
    typealias Barrier = @convention(c) (Handle) -> Int32
    typealias Abort = @convention(c) (Handle, Int32) -> Int32
    typealias Finalize = @convention(c) () -> Int32
    typealias Flag = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32

    /// MPI_THREAD_SERIALIZED: worker threads compute, one thread at a time calls MPI.
    static let threadSerialized: Int32 = 2
    /// MPI_IN_PLACE is `(void *) 1` in Open MPI's mpi.h.
    static let inPlace = UnsafeRawPointer(bitPattern: 1)

    let initThread: InitThread
    let commRank: CommQuery
    let commSize: CommQuery
    let allreduce: Allreduce
    let allgather: Allgather
    let barrier: Barrier
    let abort: Abort
    let finalize: Finalize
    let initialized: Flag
    let finalized: Flag
    let commWorld: Handle
    let float: Handle
    let double: Handle
    let byte: Handle
    let sum: Handle
    let min: Handle
    let max: Handle

    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    /// Loads `path` (default: Open MPI's libmpi.so.40, found the way the dynamic linker finds libraries).
    static func load(path: String? = nil) throws -> OpenMPILibrary {
        let path = path ?? "libmpi.so.40"
        // RTLD_GLOBAL: Open MPI's own plugins (dlopened by libmpi) resolve their symbols against it.
        guard let library = dlopen(path, RTLD_NOW | RTLD_GLOBAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw LoadError(description: "cannot load the MPI library \(path) (\(why)); install Open MPI (Debian: apt install openmpi-bin) or set FUSELLM_MPI_LIBRARY to its libmpi.so")
        }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let p = dlsym(library, name) else {
                if name.hasPrefix("ompi_") {
                    throw LoadError(description: "\(path) has no \(name): it is not Open MPI (MPICH and its derivatives use another ABI); set FUSELLM_MPI_LIBRARY to Open MPI's libmpi.so.40")
                }
                throw LoadError(description: "\(path) has no \(name)")
            }
            return p
        }
        func function<F>(_ name: String, _: F.Type) throws -> F { unsafeBitCast(try symbol(name), to: F.self) }
        return OpenMPILibrary(
            initThread: try function("MPI_Init_thread", InitThread.self),
            commRank: try function("MPI_Comm_rank", CommQuery.self),
            commSize: try function("MPI_Comm_size", CommQuery.self),
            allreduce: try function("MPI_Allreduce", Allreduce.self),
            allgather: try function("MPI_Allgather", Allgather.self),
            barrier: try function("MPI_Barrier", Barrier.self),
            abort: try function("MPI_Abort", Abort.self),
            finalize: try function("MPI_Finalize", Finalize.self),
            initialized: try function("MPI_Initialized", Flag.self),
            finalized: try function("MPI_Finalized", Flag.self),
            commWorld: try symbol("ompi_mpi_comm_world"),
            float: try symbol("ompi_mpi_float"),
            double: try symbol("ompi_mpi_double"),
            byte: try symbol("ompi_mpi_byte"),
            sum: try symbol("ompi_mpi_op_sum"),
            min: try symbol("ompi_mpi_op_min"),
            max: try symbol("ompi_mpi_op_max"))
    }
}
