import FuseFormats
import Foundation

/// Runs `fusellm` subcommands for the ablation (the CLI runs them in-process; tests substitute their own).
public protocol AblationCommands {
    /// `arguments[0]` is the subcommand: train, eval or merge.
    func run(_ arguments: [String]) throws
}

/// Trains every arm at every seed from the same prepared blocks and dumps, evaluates it per domain, evaluates the
/// baselines, and writes the reports. A run whose result.json exists is skipped; a run interrupted mid-training
/// resumes from its newest checkpoint.
///
///     OUTPUT/arms/ARM/seed-S/        fusellm train's run directory, eval.json, result.json
///     OUTPUT/baselines/NAME/         eval.json, result.json (and merged/ for a merge)
///     OUTPUT/results.csv, results.md, loss-curves.svg, perplexity-by-domain.svg, ablation.jsonl
public final class AblationRunner {
    public let config: AblationConfig
    public let output: URL
    let commands: any AblationCommands
    /// One line per event (stderr in the CLI).
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// When set, only the runs of these arms and baselines are run now; the others' finished results still go into
    /// the reports (`fusellm ablate --only`).
    public var only: Set<String>?

    public init(config: AblationConfig, commands: any AblationCommands) {
        self.config = config
        self.commands = commands
        output = URL(fileURLWithPath: config.output)
    }

    public struct Job {
        public let name: String
        public let seed: UInt64?
        public let directory: URL
        let work: () throws -> RunResult
        /// Written when the run is finished; a run that has it is not run again.
        public var resultURL: URL { directory.appendingPathComponent("result.json") }
    }

    /// Where an arm's run at `seed` trains and keeps its results.
    public func directory(of arm: AblationArm, seed: UInt64) -> URL {
        output.appendingPathComponent("arms/\(arm.name)/seed-\(seed)")
    }

    /// The results of the runs finished so far, in job order.
    public func finishedResults() throws -> [RunResult] {
        try jobs().compactMap { job in
            FileManager.default.fileExists(atPath: job.resultURL.path) ? try RunResult.read(job.resultURL) : nil
        }
    }

    /// Every run of the ablation, trained arms before baselines: every arm at the first seed, then every arm at the
    /// next, so that a long ablation stopped part way already compares all its arms, paired by seed.
    public func jobs() throws -> [Job] {
        var jobs: [Job] = []
        let arms = try config.expandArms()
        for seed in config.seeds {
            for arm in arms {
                let dir = directory(of: arm, seed: seed)
                jobs.append(Job(name: arm.name, seed: seed, directory: dir) { try self.train(arm, seed: seed, in: dir) })
            }
        }
        for baseline in config.baselines {
            let dir = output.appendingPathComponent("baselines/\(baseline.name)")
            jobs.append(Job(name: baseline.name, seed: nil, directory: dir) { try self.evaluate(baseline, in: dir) })
        }
        return jobs
    }

    /// Runs what is not finished, then writes the reports (also after a failure, for the runs that finished).
    @discardableResult
    public func run() throws -> [RunResult] {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        var all = try jobs()
        if let only {
            var seen = Set<String>()
            let names = all.map(\.name).filter { seen.insert($0).inserted }
            let unknown = only.subtracting(names).sorted()
            guard unknown.isEmpty else {
                throw AblationError("--only names \(unknown.joined(separator: ", ")), not a run of \(config.output) "
                                    + "(runs: \(names.joined(separator: ", ")))")
            }
            all = all.filter { only.contains($0.name) || FileManager.default.fileExists(atPath: $0.resultURL.path) }
        }
        var results: [RunResult] = []
        let started = Date()
        var ranThisTime = 0
        defer { if !results.isEmpty { try? writeReports(results) } }
        for (i, job) in all.enumerated() {
            let label = "[\(i + 1)/\(all.count)] \(job.name)\(job.seed.map { " seed \($0)" } ?? "")"
            if FileManager.default.fileExists(atPath: job.resultURL.path) {
                results.append(try RunResult.read(job.resultURL))
                if config.pruneCheckpoints { pruneCheckpoints(in: job.directory) }
                log("\(label): done before, skipped")
                continue
            }
            log("\(label): running")
            let began = Date()
            let result: RunResult
            do {
                try FileManager.default.createDirectory(at: job.directory, withIntermediateDirectories: true)
                result = try job.work()
            } catch {
                throw AblationError("\(job.name)\(job.seed.map { " seed \($0)" } ?? ""): \(error)")
            }
            try result.write(job.resultURL)
            if config.pruneCheckpoints { pruneCheckpoints(in: job.directory) }
            results.append(result)
            ranThisTime += 1
            let elapsed = Date().timeIntervalSince(started)
            let left = all.count - i - 1
            let eta = elapsed / Double(ranThisTime) * Double(left)
            log(String(format: "%@: ppl %.3f (%.0f s); %d runs left, ETA %@", label, result.perplexity,
                       Date().timeIntervalSince(began), left, Self.duration(eta)))
            try appendEvent(["run": job.name, "seed": job.seed.map { Int($0) as Any } ?? NSNull(), "perplexity": result.perplexity,
                             "seconds": result.seconds, "runs_left": left, "eta_s": eta])
        }
        return results
    }

    // MARK: runs

    private func train(_ arm: AblationArm, seed: UInt64, in dir: URL) throws -> RunResult {
        let began = Date()
        let signature: String
        var metrics = dir.appendingPathComponent("metrics.jsonl")
        if arm.pairwiseMerge != nil {
            // One fused copy per source (each resumable like any arm), then their merge into final/.
            let copies = arm.sources.map { (arm.pairCopy(source: $0), dir.appendingPathComponent("pair-\($0)")) }
            let recipe = config.pairwiseRecipe(arm, copies: copies.map { $0.1.appendingPathComponent("final").path })
            signature = copies.map { config.trainArguments($0.0, seed: seed, directory: "RUN", resume: false).joined(separator: " ") }
                .joined(separator: " | ") + " | " + config.pairwiseRecipe(arm, copies: arm.sources.map { "pair-\($0)/final" })
            try checkSignature(signature, in: dir)
            for (copy, copyDir) in copies { try trainOnce(copy, seed: seed, in: copyDir) }
            if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("final/config.json").path) {
                let recipeURL = dir.appendingPathComponent("merge.yaml")
                try recipe.write(to: recipeURL, atomically: true, encoding: .utf8)
                try commands.run(["merge", recipeURL.path, "--output", dir.appendingPathComponent("final").path])
            }
            metrics = copies[0].1.appendingPathComponent("metrics.jsonl")  // the first copy's curve stands for the arm's
        } else {
            signature = config.trainArguments(arm, seed: seed, directory: "RUN", resume: false).joined(separator: " ")
            try checkSignature(signature, in: dir)
            try trainOnce(arm, seed: seed, in: dir)
        }
        let evalURL = dir.appendingPathComponent("eval.json")
        try commands.run(config.evalArguments(models: [dir.appendingPathComponent("final").path], jsonOutput: evalURL.path))
        let e = try RunFiles.evaluation(evalURL)
        let curve = try RunFiles.clmLossCurve(metrics)
        return RunResult(name: arm.name, kind: "trained", seed: seed, settings: Dictionary(uniqueKeysWithValues: arm.settings),
                         signature: signature, perplexity: e.perplexity, bitsPerByte: e.bitsPerByte, tokens: e.tokens,
                         domainPerplexity: e.domainPerplexity, domainBitsPerByte: e.domainBitsPerByte,
                         steps: curve.last.map { Int($0[0]) }, clmLossCurve: curve, seconds: Date().timeIntervalSince(began),
                         fusion: try FusionSummary.read(metrics: metrics))
    }

    /// Trains `arm` into `dir` unless its final/ is there, resuming from a checkpoint a killed run left.
    private func trainOnce(_ arm: AblationArm, seed: UInt64, in dir: URL) throws {
        let final = dir.appendingPathComponent("final/model.safetensors")
        guard !FileManager.default.fileExists(atPath: final.path) else { return }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let resume = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.contains { $0.hasPrefix("checkpoint-") } ?? false
        try commands.run(config.trainArguments(arm, seed: seed, directory: dir.path, resume: resume))
    }

    private func evaluate(_ baseline: AblationConfig.Baseline, in dir: URL) throws -> RunResult {
        let began = Date()
        let evalURL = dir.appendingPathComponent("eval.json")
        let models: [String], kind: String, settings: [String: String]
        switch baseline {
        case .ensemble(_, let list):
            (models, kind, settings) = (list, "ensemble", ["sources": list.joined(separator: "+")])
        case .model(_, let path):
            (models, kind, settings) = ([path], "model", ["sources": path])
        case .merge(_, let recipe):
            let merged = dir.appendingPathComponent("merged")
            if !FileManager.default.fileExists(atPath: merged.appendingPathComponent("config.json").path) {
                try commands.run(["merge", recipe, "--output", merged.path])
            }
            (models, kind, settings) = ([merged.path], "merge", ["sources": recipe])
        }
        let signature = config.evalArguments(models: models, jsonOutput: "EVAL").joined(separator: " ")
        try checkSignature(signature, in: dir)
        try commands.run(config.evalArguments(models: models, jsonOutput: evalURL.path))
        let e = try RunFiles.evaluation(evalURL)
        return RunResult(name: baseline.name, kind: kind, seed: nil, settings: settings, signature: signature,
                         perplexity: e.perplexity, bitsPerByte: e.bitsPerByte, tokens: e.tokens,
                         domainPerplexity: e.domainPerplexity, domainBitsPerByte: e.domainBitsPerByte,
                         steps: nil, clmLossCurve: [], seconds: Date().timeIntervalSince(began))
    }

    /// A finished run needs only final/ (evaluated, in result.json): its checkpoints go (renamed away before they
    /// are deleted, so a kill never leaves a visible half checkpoint), with what a killed prune left.
    private func pruneCheckpoints(in dir: URL) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
            let url = dir.appendingPathComponent(name)
            if AtomicFile.isLeftover(name) { try? FileManager.default.removeItem(at: url) }
            if name.hasPrefix("checkpoint-") { AtomicFile.removeDirectory(url) }
            if name.hasPrefix("pair-") { pruneCheckpoints(in: url) }  // a pairwise arm's fused copies
        }
    }

    /// A run directory remembers what it was started with, so a changed setting under an old name is caught
    /// instead of resuming (or reporting) a run made with other settings.
    private func checkSignature(_ signature: String, in dir: URL) throws {
        let file = dir.appendingPathComponent("signature.txt")
        if let old = try? String(contentsOf: file, encoding: .utf8) {
            guard old == signature else {
                throw AblationError("\(dir.path) was started with other settings:\n  then: \(old)\n  now:  \(signature)\n"
                                    + "delete the directory to run it again, or give the arm a new name")
            }
        } else {
            try Data(signature.utf8).write(to: file, options: .atomic)
        }
    }

    // MARK: reports

    public func writeReports(_ results: [RunResult]) throws {
        let report = AblationReport(results: results, compareTo: config.compareTo)
        try Data(report.csv().utf8).write(to: output.appendingPathComponent("results.csv"), options: .atomic)
        try Data(report.markdown().utf8).write(to: output.appendingPathComponent("results.md"), options: .atomic)
        try Data(report.lossCurvesSVG().utf8).write(to: output.appendingPathComponent("loss-curves.svg"), options: .atomic)
        try Data(report.perplexityByDomainSVG().utf8).write(to: output.appendingPathComponent("perplexity-by-domain.svg"), options: .atomic)
    }

    private func appendEvent(_ record: [String: Any]) throws {
        try JSONLines.append(record, to: output.appendingPathComponent("ablation.jsonl"))
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}

public struct AblationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
