import Ablation
import Foundation
import TestSupport
import XCTest

/// The runner over stand-in commands that write what fusellm train / eval / merge write: every run once, the
/// reports from its results, finished runs skipped on restart, interrupted training resumed, changed settings refused.
final class AblationRunnerTests: XCTestCase {
    /// Writes metrics.jsonl + final/ for train, eval.json for eval (perplexity from a hash of the arguments),
    /// merged/config.json for merge; records every call; can fail on a chosen subcommand.
    final class FakeCommands: AblationCommands {
        var calls: [[String]] = []
        var failOn: String?

        func run(_ arguments: [String]) throws {
            calls.append(arguments)
            if arguments[0] == failOn { throw AblationError("stand-in failure") }
            func value(_ flag: String) -> String? { arguments.firstIndex(of: flag).map { arguments[$0 + 1] } }
            let fm = FileManager.default
            switch arguments[0] {
            case "train":
                let dir = URL(fileURLWithPath: value("--output")!)
                try fm.createDirectory(at: dir.appendingPathComponent("final"), withIntermediateDirectories: true)
                let fused = arguments.contains("--teachers")
                let lines = (1...10).map { step -> String in
                    let loss = 6.0 - Double(step) * 0.1
                    return fused ? "{\"step\":\(step),\"loss\":\(loss + 0.05),\"clm_loss\":\(loss),\"fusion_loss\":5.5}"
                                 : "{\"step\":\(step),\"loss\":\(loss)}"
                }
                try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
                try Data().write(to: dir.appendingPathComponent("final/model.safetensors"))
                try fm.createDirectory(at: dir.appendingPathComponent("checkpoint-000010"), withIntermediateDirectories: true)
            case "eval":
                let key = arguments.filter { !$0.hasSuffix(".json") }.joined(separator: " ")
                let ppl = 100 + Double(abs(key.hashValue % 1000)) / 100
                let json = """
                    {"models": [{"perplexity": \(ppl), "bits_per_byte": 2.5, "tokens": 1000,
                      "domains": {"code": {"perplexity": \(ppl + 10), "bits_per_byte": 2.0}, "prose": {"perplexity": \(ppl - 10), "bits_per_byte": 3.0}}}]}
                    """
                try json.write(toFile: value("--json-output")!, atomically: true, encoding: .utf8)
            case "merge":
                let dir = URL(fileURLWithPath: value("--output")!)
                try fm.createDirectory(at: dir, withIntermediateDirectories: true)
                try "{}".write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
            default:
                XCTFail("unexpected subcommand \(arguments[0])")
            }
        }
    }

    func makeConfig(_ out: URL, arms: String = "  - {name: clm, fusion: clm}") throws -> AblationConfig {
        try AblationConfig.parse(yaml: """
            output: \(out.path)
            prepared: p
            init_from: t
            target_dump: d/target
            sources: {a: d/a, b: d/b}
            train: {steps: 10}
            eval: {data: [v.parquet]}
            seeds: [1, 2, 3]
            grid: {fusion: [mince, avgce]}
            arms:
            \(arms)
            baselines:
              - {name: ens, ensemble: [x, y]}
              - {name: merged, merge: r.yaml}
            compare_to: clm
            """, source: "test.yaml")
    }

    func testRunsEveryArmAndSeedOnceAndWritesTheReports() throws {
        let out = temporaryDirectory("ablation-run")
        let fake = FakeCommands()
        let runner = AblationRunner(config: try makeConfig(out), commands: fake)
        runner.log = { _ in }
        let results = try runner.run()
        XCTAssertEqual(results.count, 3 * 3 + 2)
        XCTAssertEqual(fake.calls.filter { $0[0] == "train" }.count, 9)
        XCTAssertEqual(fake.calls.filter { $0[0] == "eval" }.count, 11)
        XCTAssertEqual(fake.calls.filter { $0[0] == "merge" }.count, 1)
        XCTAssertTrue(fake.calls.contains { $0[0] == "eval" && $0.contains("--ensemble") && $0.contains("x") && $0.contains("y") })

        let mince = results.first { $0.name == "mince" && $0.seed == 2 }!
        XCTAssertEqual(mince.clmLossCurve.count, 10)
        XCTAssertEqual(mince.finalCLMLoss!, 5.0, accuracy: 1e-12, "the CLM part of a fused run's loss")
        XCTAssertEqual(mince.settings["sources"], "a+b")
        XCTAssertEqual(mince.domainPerplexity.keys.sorted(), ["code", "prose"])

        let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 1 + 11)
        XCTAssertTrue(csv[0].hasPrefix("name,kind,seed,fusion,vocab_map,lambda,top_k,sources,fusion_metric,alignment,steps,final_clm_loss,perplexity"))
        XCTAssertTrue(csv[0].hasSuffix("perplexity:code,perplexity:prose"))
        let md = try String(contentsOf: out.appendingPathComponent("results.md"), encoding: .utf8)
        for name in ["| mince |", "| avgce |", "| clm |", "| ens |", "| merged |", "## Perplexity per domain", "**clm**"] {
            XCTAssertTrue(md.contains(name), "results.md lacks \(name)")
        }
        for plot in ["loss-curves.svg", "perplexity-by-domain.svg"] {
            let svg = try String(contentsOf: out.appendingPathComponent(plot), encoding: .utf8)
            XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("</svg>"), plot)
        }
        let svg = try String(contentsOf: out.appendingPathComponent("loss-curves.svg"), encoding: .utf8)
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2 * 3, "one curve per trained arm, and its difference to clm")
        XCTAssertTrue(svg.contains("CLM loss minus clm's at the same seed"))
        let run = out.appendingPathComponent("arms/mince/seed-1")
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("final/model.safetensors").path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.contains("checkpoint-") }, [],
                       "a finished run's checkpoints are pruned")
        let events = try String(contentsOf: out.appendingPathComponent("ablation.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(events.count, 11)
    }

    /// FuseChat's pairwise fuse-then-merge: per seed, one fused copy per source (MinCE with that source alone),
    /// then a merge of the copies from the target, evaluated as the arm; its copies resume and prune like arms.
    func testPairwiseArmTrainsOneCopyPerSourceThenMergesThem() throws {
        let out = temporaryDirectory("ablation-pairwise")
        let fake = FakeCommands()
        let config = try makeConfig(out, arms: "  - {name: clm, fusion: clm}\n  - {fusion: pairwise-sce}")
        let runner = AblationRunner(config: config, commands: fake)
        runner.log = { _ in }
        let results = try runner.run()
        let pairwise = results.filter { $0.name == "pairwise-sce" }
        XCTAssertEqual(pairwise.count, 3)
        let seed1 = out.appendingPathComponent("arms/pairwise-sce/seed-1")
        let trains = fake.calls.filter { $0[0] == "train" && $0.contains { $0.hasPrefix(seed1.path) } }
        XCTAssertEqual(trains.count, 2)
        for (train, source) in zip(trains, ["a", "b"]) {
            let text = train.joined(separator: " ")
            XCTAssertTrue(text.contains("--output \(seed1.path)/pair-\(source)") && text.contains("--fusion mince")
                          && text.contains("--teachers d/target d/\(source)"), text)
        }
        let merge = try XCTUnwrap(fake.calls.first { $0[0] == "merge" && $0.contains("\(seed1.path)/final") })
        let recipe = try String(contentsOfFile: merge[1], encoding: .utf8)
        XCTAssertTrue(recipe.contains("merge_method: sce") && recipe.contains("base_model: \"t\"")
                      && recipe.contains("\(seed1.path)/pair-a/final") && recipe.contains("\(seed1.path)/pair-b/final"), recipe)
        XCTAssertFalse(recipe.contains("weight"), "SCE weighs the copies itself")
        XCTAssertTrue(fake.calls.contains { $0[0] == "eval" && $0.contains("\(seed1.path)/final") })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: seed1.appendingPathComponent("pair-a").path)
                        .filter { $0.hasPrefix("checkpoint-") }, [], "the copies' checkpoints are pruned")
        // A restart redoes nothing.
        let before = fake.calls.count
        _ = try runner.run()
        XCTAssertEqual(fake.calls.count, before, "finished runs are skipped")
        // Unknown merge methods and model_stock over one source are refused when the file is read.
        XCTAssertThrowsError(try makeConfig(out, arms: "  - {fusion: pairwise-soup}")) { XCTAssertTrue("\($0)".contains("pairwise-soup"), "\($0)") }
        XCTAssertThrowsError(try makeConfig(out, arms: "  - {fusion: pairwise-model_stock, sources: [a]}")) {
            XCTAssertTrue("\($0)".contains("at least two sources"), "\($0)")
        }
    }

    func testARestartSkipsFinishedRunsAndResumesAnInterruptedOne() throws {
        let out = temporaryDirectory("ablation-restart")
        let config = try makeConfig(out)
        let first = FakeCommands()
        let runner = AblationRunner(config: config, commands: first)
        runner.log = { _ in }
        try runner.run()

        // One run killed mid-training: a checkpoint, no final/, no result.
        let run = out.appendingPathComponent("arms/avgce/seed-3")
        try FileManager.default.removeItem(at: run.appendingPathComponent("result.json"))
        try FileManager.default.removeItem(at: run.appendingPathComponent("final"))
        try FileManager.default.createDirectory(at: run.appendingPathComponent("checkpoint-000005"), withIntermediateDirectories: true)
        let second = FakeCommands()
        let again = AblationRunner(config: config, commands: second)
        again.log = { _ in }
        let results = try again.run()
        XCTAssertEqual(results.count, 11)
        XCTAssertEqual(second.calls.count, 2, "only the interrupted run: its training and its evaluation")
        XCTAssertEqual(second.calls[0][0], "train")
        XCTAssertTrue(second.calls[0].contains("--resume"))
        XCTAssertTrue(second.calls[0].contains(run.path))
    }

    func testOnlyRunsTheNamedRunsAndReportsEveryFinishedOne() throws {
        let out = temporaryDirectory("ablation-only")
        let config = try makeConfig(out)
        let first = FakeCommands()
        let runner = AblationRunner(config: config, commands: first)
        runner.log = { _ in }
        runner.only = ["clm"]
        let clmOnly = try runner.run()
        XCTAssertEqual(Set(clmOnly.map(\.name)), ["clm"])
        XCTAssertEqual(first.calls.filter { $0[0] == "train" }.count, 3, "clm at each seed")
        let second = FakeCommands()
        let next = AblationRunner(config: config, commands: second)
        next.log = { _ in }
        next.only = ["mince", "ens"]
        let results = try next.run()
        XCTAssertEqual(second.calls.filter { $0[0] == "train" }.count, 3, "mince at each seed, clm not again")
        XCTAssertEqual(Set(results.map(\.name)), ["clm", "mince", "ens"], "finished runs stay in the report")
        next.only = ["nope"]
        XCTAssertThrowsError(try next.run()) { XCTAssertTrue("\($0)".contains("nope") && "\($0)".contains("avgce"), "\($0)") }
    }

    func testEveryArmRunsAtTheFirstSeedBeforeAnyRunsAtTheNext() throws {
        let runner = AblationRunner(config: try makeConfig(temporaryDirectory("ablation-order")), commands: FakeCommands())
        let trained = try runner.jobs().filter { $0.seed != nil }
        let seeds = trained.map { $0.seed! }
        XCTAssertEqual(seeds, seeds.sorted(), "seed-major order")
        let arms = try runner.config.expandArms().map(\.name)
        XCTAssertEqual(trained.prefix(arms.count).map(\.name), arms)
        XCTAssertEqual(trained.count, arms.count * runner.config.seeds.count)
    }

    func testPruneCheckpointsFalseKeepsThem() throws {
        let out = temporaryDirectory("ablation-keep")
        var config = try makeConfig(out)
        config.pruneCheckpoints = false
        let runner = AblationRunner(config: config, commands: FakeCommands())
        runner.log = { _ in }
        try runner.run()
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("arms/clm/seed-2/checkpoint-000010").path))
    }

    func testAChangedArmUnderAnOldNameIsRefused() throws {
        let out = temporaryDirectory("ablation-changed")
        let runner = AblationRunner(config: try makeConfig(out), commands: FakeCommands())
        runner.log = { _ in }
        try runner.run()
        try FileManager.default.removeItem(at: out.appendingPathComponent("arms/clm/seed-1/result.json"))
        let changed = AblationRunner(config: try makeConfig(out, arms: "  - {name: clm, fusion: mince, lambda: 0.5}"),
                                     commands: FakeCommands())
        changed.log = { _ in }
        XCTAssertThrowsError(try changed.run()) { error in
            XCTAssertTrue("\(error)".contains("clm seed 1"), "\(error)")
            XCTAssertTrue("\(error)".contains("started with other settings"), "\(error)")
        }
    }

    func testAFailureNamesTheRunAndKeepsTheReportOfFinishedOnes() throws {
        let out = temporaryDirectory("ablation-fail")
        let fake = FakeCommands()
        fake.failOn = "merge"
        let runner = AblationRunner(config: try makeConfig(out), commands: fake)
        runner.log = { _ in }
        XCTAssertThrowsError(try runner.run()) { error in
            XCTAssertTrue("\(error)".contains("merged: stand-in failure"), "\(error)")
        }
        let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 1 + 10, "the runs before the failure are reported")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("baselines/merged/result.json").path))
    }
}
