import Ablation
import ArgumentParser
import Foundation

struct Ablate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train and evaluate a grid of fusion settings (and baselines) from one YAML file; write results.csv, results.md and plots.",
        discussion: "The file format and the output layout: docs/ablation.md. Run it again after an interruption: finished runs are kept, an interrupted one resumes.")

    @Argument(help: "The ablation config (YAML).") var config: String
    @Flag(help: "List the runs (and their train/eval commands) without running anything.") var dryRun = false
    @Flag(help: "Only rewrite the reports from the finished runs.") var reportOnly = false
    @Option(parsing: .upToNextOption, help: "Run only these arms and baselines now (names as --dry-run lists them); the reports still include every finished run.")
    var only: [String] = []

    func run() throws {
        do {
            let parsed = try AblationConfig.load(path: config)
            let runner = AblationRunner(config: parsed, commands: InProcessCommands())
            if !only.isEmpty { runner.only = Set(only) }
            if dryRun {
                for job in try runner.jobs() { print("\(job.name)\(job.seed.map { " seed \($0)" } ?? "")  →  \(job.directory.path)") }
                for arm in try parsed.expandArms() {
                    let seed = parsed.seeds[0]
                    print("fusellm " + parsed.trainArguments(arm, seed: seed, directory: runner.directory(of: arm, seed: seed).path,
                                                             resume: false).joined(separator: " "))
                }
                return
            }
            if reportOnly {
                let finished = try runner.finishedResults()
                guard !finished.isEmpty else { throw AblationError("\(parsed.output): no finished runs yet") }
                try runner.writeReports(finished)
            } else {
                try runner.run()
            }
            print(try String(contentsOfFile: "\(parsed.output)/results.md", encoding: .utf8))
        } catch {
            throw CleanExit(error)
        }
    }
}

/// Runs fusellm subcommands in this process, as if typed on the command line.
struct InProcessCommands: AblationCommands {
    func run(_ arguments: [String]) throws {
        FileHandle.standardError.write(Data(("$ fusellm " + arguments.joined(separator: " ") + "\n").utf8))
        var command = try FuseLLM.parseAsRoot(arguments)
        try command.run()
    }
}
