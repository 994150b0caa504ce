import Ablation
import Foundation
import TestSupport
import XCTest

/// The ablation file: arms expanded from the grid and the single arms, the train/eval arguments each run gets,
/// and one clear error (file and item) for every kind of mistake.
final class AblationConfigTests: XCTestCase {
    static let yaml = """
        output: out/ablation
        prepared: out/prepared
        init_from: out/target/final
        target_dump: out/dumps/target
        align_cache: out/cache
        sources:
          smollm2: out/dumps/smollm2
          bpe: out/dumps/source-bpe
          expert: out/dumps/expert
        train: {steps: 20, batch_size: 2, lr: 5e-4, skip_non_finite: true}
        eval:
          data: [valid.parquet, test.parquet]
          block_size: 128
        seeds: [1, 2]
        grid:
          fusion: [mince, avgce]
          vocab_map: [mined, em]
          lambda: [0.9]
          top_k: [all, 5]
          sources: [[smollm2, bpe]]
        arms:
          - {name: clm, fusion: clm}
          - {fusion: single:smollm2, sources: [smollm2]}
          - {lambda: 0.5}
        baselines:
          - {name: before, model: out/target/final}
          - {name: ensemble, ensemble: [a, b]}
          - {name: ties, merge: ties.yaml}
        compare_to: clm
        """

    func config(_ text: String = yaml) throws -> AblationConfig { try AblationConfig.parse(yaml: text, source: "ablation.yaml") }

    func testGridAndSingleArms() throws {
        let c = try config()
        XCTAssertEqual(c.sources.map(\.name), ["smollm2", "bpe", "expert"], "sources keep the file's order")
        let arms = try c.expandArms()
        XCTAssertEqual(arms.map(\.name), [
            "mince", "mince-k5", "mince-em", "mince-em-k5", "avgce", "avgce-k5", "avgce-em", "avgce-em-k5",
            "clm", "single-smollm2-smollm2", "mince-l0.5",
        ])
        XCTAssertEqual(arms[1].topK, 5)
        XCTAssertNil(arms[0].topK)
        XCTAssertEqual(arms.last!.lambda, 0.5)
        XCTAssertEqual(arms.last!.sources, ["smollm2", "bpe"], "a single arm takes the grid's first values")
        XCTAssertTrue(arms[8].isCLMOnly)
        XCTAssertEqual(c.seeds, [1, 2])
        XCTAssertEqual(c.baselines.map(\.name), ["before", "ensemble", "ties"])
    }

    /// Names leave out settings at the tool's defaults, so growing a grid dimension keeps finished arms' names.
    func testGrowingTheGridKeepsTheNamesOfArmsAlreadyRun() throws {
        let base = Self.yaml.replacingOccurrences(of: "top_k: [all, 5]", with: "top_k: [all]")
            .replacingOccurrences(of: "{lambda: 0.5}", with: "{lambda: 0.3}")
        let one = try config(base).expandArms().map(\.name)
        let two = try config(base.replacingOccurrences(of: "lambda: [0.9]", with: "lambda: [0.9, 0.5]")).expandArms().map(\.name)
        XCTAssertEqual(one, ["mince", "mince-em", "avgce", "avgce-em", "clm", "single-smollm2-smollm2", "mince-l0.3"])
        XCTAssertTrue(Set(one).isSubset(of: Set(two)), "\(two)")
        XCTAssertTrue(two.contains("avgce-em-l0.5"))
        let sets = try config(Self.yaml.replacingOccurrences(of: "sources: [[smollm2, bpe]]", with: "sources: [[smollm2, bpe], [smollm2]]"))
        XCTAssertTrue(try sets.expandArms().map(\.name).contains("mince-em-k5-smollm2"))
    }

    /// The fusion metric is a grid axis: bits-per-byte arms are named `-bpb`, the ce arms keep their names.
    func testFusionMetricAxis() throws {
        let base = Self.yaml.replacingOccurrences(of: "top_k: [all, 5]", with: "top_k: [all]")
        let c = try config(base.replacingOccurrences(of: "lambda: [0.9]", with: "lambda: [0.9]\n  fusion_metric: [ce, bits-per-byte]"))
        let arms = try c.expandArms()
        XCTAssertEqual(Array(arms.map(\.name).prefix(4)), ["mince", "mince-bpb", "mince-em", "mince-em-bpb"])
        let args = c.trainArguments(arms[1], seed: 1, directory: "d", resume: false).joined(separator: " ")
        XCTAssertTrue(args.contains("--fusion-metric bits-per-byte"), args)
        XCTAssertFalse(c.trainArguments(arms[0], seed: 1, directory: "d", resume: false).contains("--fusion-metric"))
        XCTAssertEqual(arms[1].settings.first { $0.0 == "fusion_metric" }?.1, "bits-per-byte")
        let aligned = try config(base.replacingOccurrences(of: "lambda: [0.9]", with: "lambda: [0.9]\n  alignment: [dtw, offsets]"))
        let alignedArms = try aligned.expandArms()
        XCTAssertEqual(Array(alignedArms.map(\.name).prefix(2)), ["mince", "mince-offsets"])
        XCTAssertTrue(aligned.trainArguments(alignedArms[1], seed: 1, directory: "d", resume: false).joined(separator: " ")
                        .contains("--alignment offsets"))
        XCTAssertThrowsError(try config(base.replacingOccurrences(of: "lambda: [0.9]", with: "lambda: [0.9]\n  fusion_metric: [bits]"))) {
            XCTAssertTrue("\($0)".contains("fusion_metric bits"), "\($0)")
        }
    }

    func testTrainArgumentsOfAFusionArm() throws {
        let c = try config()
        let arm = try c.expandArms()[1]
        let args = c.trainArguments(arm, seed: 2, directory: "out/ablation/arms/x/seed-2", resume: true)
        let text = args.joined(separator: " ")
        XCTAssertEqual(args.first, "train")
        for part in ["--init-from out/target/final", "--prepared out/prepared", "--output out/ablation/arms/x/seed-2",
                     "--seed 2", "--steps 20", "--batch-size 2", "--lr 0.0005", "--skip-non-finite", "--fusion mince",
                     "--lambda 0.9", "--vocab-map mined", "--top-k 5", "--align-cache out/cache", "--resume",
                     "--teachers out/dumps/target out/dumps/smollm2 out/dumps/source-bpe"] {
            XCTAssertTrue(text.contains(part), "\(part) missing from: \(text)")
        }
        XCTAssertFalse(text.contains("expert"), "only the arm's sources are teachers")
    }

    func testCLMArmHasNoTeachersAndSingleNamesTheDumpDirectory() throws {
        let c = try config()
        let arms = try c.expandArms()
        let clm = c.trainArguments(arms[8], seed: 1, directory: "d", resume: false).joined(separator: " ")
        XCTAssertFalse(clm.contains("--teachers") || clm.contains("--fusion") || clm.contains("--resume"), clm)
        let single = c.trainArguments(arms[9], seed: 1, directory: "d", resume: false).joined(separator: " ")
        XCTAssertTrue(single.contains("--fusion single:smollm2"), single)
        // single:NAME names a source of the file; train knows teachers by their dump directory's name.
        let renamed = try config(Self.yaml.replacingOccurrences(of: "single:smollm2, sources: [smollm2]", with: "single:bpe, sources: [bpe]"))
        let bpe = renamed.trainArguments(try renamed.expandArms()[9], seed: 1, directory: "d", resume: false).joined(separator: " ")
        XCTAssertTrue(bpe.contains("--fusion single:source-bpe"), bpe)
    }

    func testEvalArguments() throws {
        let c = try config()
        XCTAssertEqual(c.evalArguments(models: ["m"], jsonOutput: "e.json"),
                       ["eval", "--model", "m", "--data", "valid.parquet", "test.parquet", "--by-domain", "--block-size", "128",
                        "--json-output", "e.json"])
        XCTAssertTrue(c.evalArguments(models: ["a", "b"], jsonOutput: "e.json").contains("--ensemble"))
    }

    func testMistakesNameTheFileAndTheItem() throws {
        let cases: [(String, String, [String])] = [
            ("compare_to: clm", "compare_to: clm\nsteps: 3", ["ablation.yaml", "steps", "unknown key"]),
            ("block_size: 128", "block_size: 128\n  blocks: 2", ["eval.blocks", "unknown key"]),
            ("[[smollm2, bpe]]", "[[smollm2, nope]]", ["nope", "does not declare"]),
            ("lr: 5e-4", "lr: 5e-4, seed: 3", ["train.seed", "set by the ablation"]),
            ("{lambda: 0.5}", "{lambda: 1.5}", ["lambda 1.5", "outside [0, 1]"]),
            ("{name: before,", "{name: clm,", ["clm", "unique"]),
            ("compare_to: clm", "compare_to: other", ["compare_to", "other"]),
            ("single:smollm2, sources: [smollm2]", "single:smollm2, sources: [bpe]", ["distils smollm2", "not among its sources"]),
            ("seeds: [1, 2]", "seeds: [1, 1]", ["seeds", "each once"]),
            ("{name: ensemble, ensemble: [a, b]}", "{name: ensemble, ensemble: [a]}", ["baselines[1].ensemble", "at least two"]),
            ("{name: ties, merge: ties.yaml}", "{name: ties, merge: ties.yaml, model: x}", ["baselines[2]", "exactly one"]),
            ("prepared: out/prepared\n", "", ["prepared", "missing"]),
            ("top_k: [all, 5]", "top_k: [0]", ["grid.top_k[0]", "positive integer"]),
            ("output: out/ablation", "output: [a: b", ["ablation.yaml", "not valid YAML"]),
        ]
        for (old, new, fragments) in cases {
            let text = Self.yaml.replacingOccurrences(of: old, with: new)
            XCTAssertNotEqual(text, Self.yaml, old)
            XCTAssertThrowsError(try config(text), old) { error in
                for f in fragments { XCTAssertTrue("\(error)".contains(f), "\(error) lacks \(f)") }
            }
        }
        XCTAssertThrowsError(try AblationConfig.load(path: "/nonexistent/ablation.yaml")) {
            XCTAssertTrue("\($0)".contains("/nonexistent/ablation.yaml"))
        }
    }
}
