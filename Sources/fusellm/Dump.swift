import Models
import ArgumentParser
import Distributed
import FuseFormats
import Foundation
import Fusion
import Llama
import Training

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Teacher distributions: run a source model over a prepared corpus and store its top-k per position.",
        discussion: "`fusellm dump --prepared DIR --model M --output OUT` (the run subcommand is the default); `fusellm dump merge` joins --shard parts; `fusellm dump verify DIR` checks a dump.",
        subcommands: [DumpRun.self, DumpMerge.self, DumpVerify.self, DumpExport.self, DumpImport.self], defaultSubcommand: DumpRun.self)
}

struct DumpRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Dump one source model's top-k log-probabilities and per-text ce (resumable; shardable with --shard i/n).",
        discussion: "Under mpirun or srun, rank r of N dumps part r/N and rank 0 joins the parts when all are done; running the same command again resumes every part.")

    @Option(help: "Directory written by fusellm prepare.") var prepared: String
    @Option(help: "Source model: HF checkpoint directory or .gguf (the target itself is a source too).") var model: String
    @Option(help: "Dump directory (manifest.json, shard-*.fzst).") var output: String
    @Option(help: "Entries kept per position.") var k = 10
    @Option(help: "Stored log-prob encoding: qgap (value order, gaps of 2^-9; error ≤ 2^-10; the smallest), q16 (2 bytes, error ≤ 2^-11), f16 or f32 (exact). Default: qgap, or the encoding the dump in --output was begun with.")
    var encoding: String?
    @Option(help: "This worker's part, i/n: shards s with s % n == i (then fusellm dump merge); under mpirun/srun each rank takes its own.") var shard: String?
    @Option(help: "Texts per shard file (the unit of resumption).") var textsPerShard = 128
    @Option(help: "Pad sequence lengths to a multiple of this (reuses the model's workspace).") var lengthBucket = 128
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var precision: PrecisionOption

    func run() throws {
        try DistributedRun.run(compute) { group in try dump(group: group) }
    }

    private func dump(group: ProcessGroup) throws {
        let recorded = TeacherDump.recordedEncoding(in: URL(fileURLWithPath: output))
        guard let encoding = encoding.map({ ValueEncoding(rawValue: $0) }) ?? recorded ?? .qgap else {
            throw ValidationError("--encoding must be qgap, q16, f16 or f32")
        }
        var options = DumpOptions()
        options.k = k
        options.encoding = encoding
        options.textsPerShard = textsPerShard
        options.lengthBucket = lengthBucket
        if let shard {
            let parts = shard.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] > 0, parts[0] >= 0, parts[0] < parts[1] else {
                throw ValidationError("--shard must be i/n with 0 ≤ i < n, e.g. 0/4")
            }
            (options.part, options.parts) = (parts[0], parts[1])
        }
        if group.size > 1 {
            guard shard == nil else { throw ValidationError("--shard is for separate workers; under mpirun/srun rank r of N dumps part r/N") }
            (options.part, options.parts) = (group.rank, group.size)
        }
        do {
            let chosen = try precision.checked()
            let corpus = try PreparedCorpus(directory: URL(fileURLWithPath: prepared))
            let pretrained = try PretrainedModel.load(path: model)
            pretrained.model.precision = chosen
            let name = try DumpSourceIdentity.describe(path: model)
            let out = URL(fileURLWithPath: output)
            let runner = try DumpRunner(prepared: corpus, model: pretrained, sourceName: name, output: out, options: options)
            if group.isFirst {
                try runner.claimOutput()  // refuse another dump's directory before writing anything into it
                try DumpTokenizerFile.keep(of: pretrained, modelPath: model, in: out)
            }
            group.barrier()  // the other ranks write into the directory once rank 0 has claimed it
            let suffix = options.parts == 1 ? "" : ".part-\(options.part)-of-\(options.parts)"
            let metrics = out.appendingPathComponent("metrics\(suffix).jsonl")
            // Counted in prepared target tokens (texts differ in length); the rate is in the source's own tokens.
            let partTokens = TeacherDump.shards(of: runner.settings, part: options.part, of: options.parts)
                .reduce(0) { sum, s in runner.settings.blockRange(ofShard: s).reduce(sum) { $0 + corpus.tokenCount(ofText: $1) } }
            var line = ProgressLine(total: partTokens, unit: "target tokens")
            var lastTokens = 0, lastSeconds = 0.0
            var manifest = try runner.run(progress: { p in
                line.update(done: p.targetTokens, doneThisRun: p.targetTokensThisRun,
                             rateValue: Double(p.tokensThisRun) / max(p.secondsThisRun, 1e-9),
                             rateUnit: "tokens/s", detail: "\(group.label)texts \(p.texts)/\(p.totalTexts)")
                (lastTokens, lastSeconds) = (p.tokensThisRun, p.secondsThisRun)
            }, shardDone: { r in
                // The metrics log is a record, not the output: a failed append must not stop the dump.
                try? JSONLines.append(["shard": r.shard, "texts": r.texts, "tokens": r.tokens, "seconds": r.seconds,
                                       "tokens_per_s": Double(r.tokens) / max(r.seconds, 1e-9), "ce": r.ce, "bytes": r.bytes,
                                       "bytes_per_token": Double(r.bytes) / Double(max(r.tokens, 1))], to: metrics)
            })
            if group.size > 1 {
                // Rank 0 joins the parts once every rank has written its own (a failed rank has stopped the job).
                let totals = group.sum([Double(lastTokens), lastSeconds])
                group.barrier()
                guard group.isFirst else { return }
                manifest = try TeacherDump.merge([out], into: out)
                try TeacherDumpReader(directory: out).verify()
                (lastTokens, lastSeconds) = (Int(totals[0]), totals[1] / Double(group.size))
            }
            let positions = manifest.shards.reduce(0) { $0 + $1.positions }, bytes = manifest.shards.reduce(0) { $0 + $1.bytes }
            let summary: [String: Any] = [
                "output": output, "source": manifest.source, "texts": manifest.blockCount, "shards": manifest.shards.count,
                "part": group.size > 1 ? "all \(group.size) ranks" : "\(options.part)/\(options.parts)", "k": manifest.k, "encoding": manifest.valueEncoding.rawValue,
                "positions": positions, "bytes": bytes, "bytes_per_token": Double(bytes) / Double(max(positions, 1)),
                "tokens_this_run": lastTokens, "tokens_per_s": Double(lastTokens) / max(lastSeconds, 1e-9),
                "target": runner.isTarget,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
        } catch {
            throw CleanExit(error)
        }
    }
}

struct DumpMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the parts of a dump made with --shard i/n (from one or several directories) into one manifest.json.")

    @Argument(help: "Directories holding the parts' shards and manifest.part-i-of-n.json files.") var directories: [String]
    @Option(help: "Where the joined dump goes (default: the first directory).") var output: String?

    func run() throws {
        guard let first = directories.first else { throw ValidationError("give the directories holding the parts") }
        do {
            let out = URL(fileURLWithPath: output ?? first)
            // No dump may still be writing into the directories being joined, nor another merge.
            let locks = try Set([out.standardizedFileURL] + directories.map { URL(fileURLWithPath: $0).standardizedFileURL })
                .sorted { $0.path < $1.path }
                .map { try DirectoryLock($0, mode: .exclusive, purpose: "fusellm dump merge") }
            defer { withExtendedLifetime(locks) {} }
            let m = try TeacherDump.merge(directories.map { URL(fileURLWithPath: $0) }, into: out)
            try TeacherDumpReader(directory: out).verify()
            let summary: [String: Any] = ["output": out.path, "source": m.source, "texts": m.blockCount, "shards": m.shards.count,
                                          "positions": m.shards.reduce(0) { $0 + $1.positions }, "bytes": m.shards.reduce(0) { $0 + $1.bytes }]
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
        } catch {
            throw CleanExit(error)
        }
    }
}
