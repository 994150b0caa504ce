import Ablation
import ArgumentParser
import Foundation

struct FusionStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fusion-stats",
        abstract: "What the fusion did in fused training runs: per source, the blocks MinCE chose it on, its mean weight "
            + "and block ce, the rows DTW aligned one-to-one, and how its top-k entries were mapped (exact, edit distance, dropped).",
        discussion: "Reads each run directory's metrics.jsonl (fusellm train --teachers writes a fusion entry per logged step).")

    @Argument(help: "Run directories of fusellm train (or their metrics.jsonl files).") var runs: [String]
    @Flag(help: "One JSON object per run instead of the table.") var json = false

    func run() throws {
        guard !runs.isEmpty else { throw ValidationError("give one or more run directories") }
        do {
            var table: [(run: String, sources: [FusionSourceSummary])] = []
            for run in runs {
                var url = URL(fileURLWithPath: run)
                if !run.hasSuffix(".jsonl") { url.appendPathComponent("metrics.jsonl") }
                guard let summary = try FusionSummary.read(metrics: url) else {
                    throw AblationError("\(url.path): no fusion statistics (a CLM-only run, or one trained before they were logged)")
                }
                // The run directory's name, also when the metrics file itself was given.
                let name = url.deletingLastPathComponent().standardizedFileURL.lastPathComponent
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    encoder.keyEncodingStrategy = .convertToSnakeCase
                    let object: [String: [FusionSourceSummary]] = [run: summary]
                    print(String(decoding: try encoder.encode(object), as: UTF8.self))
                } else {
                    table.append((name, summary))
                }
            }
            if !json { print(FusionSummary.markdownTable(table), terminator: "") }
        } catch {
            throw CleanExit(error)
        }
    }
}
