import Foundation

/// Whether this process was started by an MPI launcher, and the process group it belongs to.
public enum Launcher {
    /// Variables a launcher sets in every process it starts: Open MPI's mpirun, PMIx (srun --mpi=pmix, prterun),
    /// PMI-2 (srun --mpi=pmi2).
    static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"]

    /// The tasks Slurm says this job step has (srun sets it in every task), or nil outside srun.
    static func slurmTasks(_ env: [String: String]) -> Int? { env["SLURM_STEP_NUM_TASKS"].flatMap { Int($0) } }

    /// True when MPI should be used: FUSELLM_MPI=1 forces it, FUSELLM_MPI=0 forbids it, else a launcher's
    /// variables or a Slurm step of several tasks. A plain `fusellm …` never loads MPI.
    public static func isLaunched(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        switch env["FUSELLM_MPI"] {
        case "0": return false
        case "1": return true
        default: return launcherVariables.contains { env[$0] != nil } || (slurmTasks(env) ?? 1) > 1
        }
    }

    /// How many ranks share this machine (to split its cores between them), when the launcher says.
    public static func ranksOnThisNode(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        if let n = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap({ Int($0) }) { return n }
        // Slurm writes "2(x3)" for three nodes of two tasks each; the first count is this layout's.
        if let s = env["SLURM_STEP_TASKS_PER_NODE"], let n = Int(s.prefix { $0.isNumber }) { return n }
        return nil
    }

    /// The process group: `SingleProcess` unless launched; under a launcher (Open MPI's libmpi.so.40, or the library
    /// FUSELLM_MPI_LIBRARY names), MPI_COMM_WORLD, checked against what
    /// the launcher said (a Slurm step whose tasks each see an MPI world of one would train N separate copies).
    public static func processGroup(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessGroup {
        guard isLaunched(env) else { return SingleProcess() }
        let group = try MPIProcessGroup(library: try OpenMPILibrary.load(path: env["FUSELLM_MPI_LIBRARY"]))
        let expected = env["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) } ?? slurmTasks(env)
        if let expected, expected != group.size {
            group.finish()
            throw OpenMPILibrary.LoadError(description: "the launcher started \(expected) tasks but MPI sees a world of \(group.size): under Slurm use srun --mpi=pmix (or pmi2), with Open MPI's mpirun use its own mpirun")
        }
        return group
    }
}
