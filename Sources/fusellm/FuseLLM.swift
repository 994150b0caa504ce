import ArgumentParser
import Distributed
import FuseTensor
import Foundation

@main
struct FuseLLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fusellm",
        abstract: "Knowledge fusion of large language models (FuseLLM), on CPU.",
        subcommands: [Train.self, Eval.self, Convert.self, Prepare.self, Dump.self, Align.self, Merge.self, Ablate.self, FusionStats.self, Bench.self])

    /// Expands `--config FILE.yaml` before parsing (see ConfigFile).
    static func main() {
        useFasterBLASKernelsIfMisdetected()
        do {
            let arguments = try ConfigFile.expand(Array(CommandLine.arguments.dropFirst()))
            try refuseLauncherUnlessDistributed(arguments)
            main(arguments)
        } catch {
            exit(withError: CleanExit(error))
        }
    }
}

/// When OpenBLAS took this CPU for an older one (`BLAS.coreTypeForMisdetectedCPU`), runs this command again with
/// OPENBLAS_CORETYPE naming the right kernels (OpenBLAS reads it only when it loads). A variable the user set is
/// left alone; if the re-execution fails the command goes on with OpenBLAS's own choice.
func useFasterBLASKernelsIfMisdetected() {
    guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
          let core = BLAS.coreTypeForMisdetectedCPU() else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
}

/// Only train and dump split their work between ranks; any other command under mpirun/srun would run N copies
/// writing the same files.
func refuseLauncherUnlessDistributed(_ arguments: [String]) throws {
    guard Launcher.isLaunched(), let command = arguments.first, !command.hasPrefix("-") else { return }
    let distributed = command == "train" || (command == "dump" && arguments.dropFirst().first != "merge")
    guard distributed else {
        throw ValidationError("fusellm \(command) runs as one process; under mpirun or srun only train and dump share their work between ranks")
    }
}

/// Options every compute-heavy command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores, shared equally by the ranks an MPI launcher put on this machine).")
    var threads: Int?

    /// `ranksOnThisNode`: how many processes of an MPI job share this machine's cores.
    func apply(ranksOnThisNode: Int? = nil) {
        if let threads {
            Parallel.threads = max(1, threads)
        } else if let ranks = ranksOnThisNode, ranks > 1 {
            Parallel.threads = max(1, ProcessInfo.processInfo.activeProcessorCount / ranks)
        }
        BLAS.useSingleThreadedOpenBLAS()
    }
}

/// The number format of the matrix products, for the commands that run models.
struct PrecisionOption: ParsableArguments {
    @Option(help: "Matrix products: fp32 (exact against PyTorch) or bf16 (bf16 operands, fp32 accumulation; needs AVX512-BF16).")
    var precision: Precision = .fp32

    /// The precision, once this CPU is known to run it. Commands call it before loading a model, so a refusal does
    /// not wait for the load.
    func checked() throws -> Precision {
        try precision.checkSupported()
        return precision
    }
}

extension Precision: ExpressibleByArgument {}

/// Prints an error the way every subcommand reports bad input: one line, non-zero exit.
struct CleanExit: Error, CustomStringConvertible {
    let description: String
    init(_ error: Error) { description = "\(error)" }
}
