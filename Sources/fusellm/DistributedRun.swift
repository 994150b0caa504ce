import ArgumentParser
import Distributed
import Foundation

/// A command's life under an MPI launcher: join the process group first, leave it last (MPI_Finalize), and turn an
/// error on any rank into a stop of every rank — the others would otherwise wait forever in the next collective.
enum DistributedRun {
    /// Joins the process group, gives each rank its share of this machine's cores, and runs `body`; alone, errors
    /// are reported as usual (one line, exit 1). Under a launcher the failing rank prints its error and calls
    /// MPI_Abort, which ends the whole job with a non-zero exit.
    static func run(_ compute: ComputeOptions, _ body: (ProcessGroup) throws -> Void) throws {
        let group: ProcessGroup
        do {
            group = try Launcher.processGroup()
        } catch {
            throw CleanExit(error)
        }
        compute.apply(ranksOnThisNode: group.size > 1 ? Launcher.ranksOnThisNode() : nil)
        do {
            try body(group)
        } catch let e as ExitCode {
            guard group.size > 1, e != .success else { (group as? MPIProcessGroup)?.finish(); throw e }
            group.abort(code: e.rawValue)
        } catch {
            guard group.size > 1 else { throw CleanExit(error) }
            FileHandle.standardError.write(Data("Error: \(group.label)\(error)\n".utf8))
            group.abort(code: 1)
        }
        (group as? MPIProcessGroup)?.finish()
    }
}
