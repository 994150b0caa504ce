import FuseFormats
import Foundation
import TestSupport
import XCTest

/// `mpirun -np 2 fusellm train` against one process: two ranks × --grad-accum 1 take the same steps as one process
/// with --grad-accum 2 — the same losses and the same final weights, bit for bit (with two ranks each gradient is
/// g₁ + g₂ either way). CLM and fused training; a resume with the other number of ranks; an error on the ranks.
/// Needs Open MPI's mpirun (scripts/setup.sh installs openmpi-bin); skipped without it.
final class MPITrainingTests: XCTestCase {
    static let data = Fixtures.packageRoot.appendingPathComponent("data")
    nonisolated(unsafe) static var work: URL?

    /// The fusellm binary built next to this test bundle.
    var fusellm: URL {
        let tests = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return tests.deletingLastPathComponent().appendingPathComponent("fusellm")
    }

    var mpirun: String? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Result {
        let status: Int32
        let stderr: String
    }

    /// Runs a command with a deadline: a hang is a failure, not a stuck suite.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 300, expectSuccess: Bool = true) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"  // containers forbid the cross-process copies it tries
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"             // two ranks may outnumber the cores
        p.environment = env
        let errPipe = Pipe()
        p.standardError = errPipe
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        final class Box: @unchecked Sendable { var data = Data() }
        let collected = Box()
        let reader = Thread { collected.data = errPipe.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        while p.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning {
            p.terminate()
            p.waitUntilExit()
            XCTFail("\(executable) \(arguments.joined(separator: " ")) did not finish in \(Int(timeout)) s")
        }
        p.waitUntilExit()
        while !reader.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        let result = Result(status: p.terminationStatus, stderr: String(decoding: collected.data, as: UTF8.self))
        if expectSuccess, result.status != 0 {
            XCTFail("\(arguments.prefix(4).joined(separator: " ")) … exited \(result.status):\n\(result.stderr.suffix(3000))")
        }
        return result
    }

    func fusellmRun(_ arguments: [String]) throws { try run(fusellm.path, arguments) }

    func mpiRun(ranks: Int, _ arguments: [String], expectSuccess: Bool = true) throws -> Result {
        try run(mpirun!, ["-np", "\(ranks)", "--oversubscribe", fusellm.path] + arguments, expectSuccess: expectSuccess)
    }

    /// A tiny target and a tiny source of another vocabulary, blocks prepared from a few sample documents and one
    /// dump per model: made once for every test here.
    func workspace() throws -> URL {
        if let work = Self.work { return work }
        let w = temporaryDirectory("mpi")
        // The smallest split of the sample: a debug build tokenizes slowly.
        let sample = Self.data.appendingPathComponent("sample/minipile/validation-00000-of-00001.parquet").path
        let common = ["--steps", "1", "--batch-size", "1", "--block-size", "64", "--eval-fraction", "0", "--threads", "1",
                      "--data", sample]
        try fusellmRun(["train", "--model-config", Self.data.appendingPathComponent("configs/target-tiny.json").path,
                        "--tokenizer", Self.data.appendingPathComponent("tokenizers/target-spm/tokenizer.model").path,
                        "--output", w.appendingPathComponent("target").path] + common)
        try fusellmRun(["train", "--model-config", Self.data.appendingPathComponent("configs/source-tiny-bpe.json").path,
                        "--tokenizer", Self.data.appendingPathComponent("tokenizers/source-bpe/tokenizer.json").path,
                        "--output", w.appendingPathComponent("source").path] + common)
        // About a thousand tokens to prepare and dump (a debug build dumps some 100 tokens a second).
        let text = w.appendingPathComponent("text.txt")
        try Data(try Data(contentsOf: Self.data.appendingPathComponent("sample/python-reference.txt")).prefix(4000)).write(to: text)
        try fusellmRun(["prepare", "--data", text.path, "--target", w.appendingPathComponent("target/final").path,
                        "--also-tokenizer", w.appendingPathComponent("source/final").path, "--block-size", "64",
                        "--max-text-tokens", "200", "--output", w.appendingPathComponent("prepared").path])
        for model in ["target", "source"] {
            try fusellmRun(["dump", "--prepared", w.appendingPathComponent("prepared").path, "--model",
                            w.appendingPathComponent("\(model)/final").path, "--output", w.appendingPathComponent("dumps/\(model)").path,
                            "--threads", "1"])
        }
        Self.work = w
        return w
    }

    func trainArguments(_ w: URL, fused: Bool, gradAccum: Int, output: String) -> [String] {
        var a = ["train", "--prepared", w.appendingPathComponent("prepared").path, "--init-from", w.appendingPathComponent("target/final").path,
                 "--steps", "4", "--batch-size", "2", "--block-size", "64", "--grad-accum", "\(gradAccum)", "--lr", "1e-3",
                 "--warmup-ratio", "0.25", "--eval-fraction", "0", "--checkpoint-every", "2", "--keep-checkpoints", "2",
                 "--threads", "1", "--seed", "3", "--output", w.appendingPathComponent(output).path]
        if fused {
            a += ["--teachers", w.appendingPathComponent("dumps/target").path, w.appendingPathComponent("dumps/source").path,
                  "--fusion", "mince", "--lambda", "0.7"]
        }
        return a
    }

    /// step → (loss, and the metrics line's fusion statistics when fused), from a run's metrics.jsonl.
    func metrics(_ run: URL) throws -> [Int: (loss: Double, fusion: NSDictionary?)] {
        var out: [Int: (Double, NSDictionary?)] = [:]
        for line in try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            out[(o["step"] as! NSNumber).intValue] = ((o["loss"] as! NSNumber).doubleValue, o["fusion"] as? NSDictionary)
        }
        return out
    }

    /// Fractions rounded to 12 significant digits, recursively.
    func rounded(_ value: Any) -> NSObject {
        switch value {
        case let d as NSDictionary: return NSDictionary(dictionary: d.reduce(into: [String: NSObject]()) { $0["\($1.key)"] = rounded($1.value) })
        case let a as NSArray: return a.map(rounded) as NSArray
        case let n as NSNumber where n.doubleValue != n.doubleValue.rounded(): return NSString(format: "%.12g", n.doubleValue)
        default: return value as! NSObject
        }
    }

    func assertSameRun(_ a: URL, _ b: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let ma = try metrics(a), mb = try metrics(b)
        XCTAssertEqual(ma.keys.sorted(), [1, 2, 3, 4], file: file, line: line)
        for step in ma.keys.sorted() {
            XCTAssertEqual(ma[step]?.loss, mb[step]?.loss, "loss at step \(step)", file: file, line: line)
            // The statistics' ce is a sum over blocks in another order (the ranks' partial sums): equal to 1e-12.
            XCTAssertEqual(ma[step]?.fusion.map(rounded), mb[step]?.fusion.map(rounded), "fusion statistics at step \(step)", file: file, line: line)
        }
        let wa = try Data(contentsOf: a.appendingPathComponent("final/model.safetensors"))
        let wb = try Data(contentsOf: b.appendingPathComponent("final/model.safetensors"))
        XCTAssertTrue(wa == wb, "final weights differ", file: file, line: line)
    }

    override func setUpWithError() throws {
        guard mpirun != nil else { throw XCTSkip("Open MPI's mpirun is not installed (scripts/setup.sh installs openmpi-bin)") }
        guard FileManager.default.isExecutableFile(atPath: fusellm.path) else { throw XCTSkip("no fusellm binary at \(fusellm.path)") }
    }

    func testTwoRanksTrainAsOneProcessWithTwiceTheAccumulation() throws {
        let w = try workspace()
        try fusellmRun(trainArguments(w, fused: false, gradAccum: 2, output: "clm-1"))
        let r = try mpiRun(ranks: 2, trainArguments(w, fused: false, gradAccum: 1, output: "clm-2"))
        XCTAssertTrue(r.stderr.contains("data parallel: 2 ranks"), r.stderr)
        try assertSameRun(w.appendingPathComponent("clm-1"), w.appendingPathComponent("clm-2"))
        let line = try String(contentsOf: w.appendingPathComponent("clm-2/metrics.jsonl"), encoding: .utf8).split(separator: "\n")[0]
        XCTAssertTrue(line.contains("\"allreduce_s\"") && line.contains("\"ranks\":2"), String(line))
    }

    func testFusedTrainingOnTwoRanksIsTheSame() throws {
        let w = try workspace()
        try fusellmRun(trainArguments(w, fused: true, gradAccum: 2, output: "fused-1"))
        try mpiRun(ranks: 2, trainArguments(w, fused: true, gradAccum: 1, output: "fused-2"))
        try assertSameRun(w.appendingPathComponent("fused-1"), w.appendingPathComponent("fused-2"))
        XCTAssertNotNil(try metrics(w.appendingPathComponent("fused-2"))[1]?.fusion, "the fusion statistics of both ranks")
    }

    /// The checkpoint keeps the global batch (ranks × --grad-accum), not the number of ranks: a 2-rank run resumes
    /// in one process with --grad-accum 2 and ends where an uninterrupted run does; a different global batch is refused.
    func testAResumeMayChangeTheRanksButNotTheGlobalBatch() throws {
        let w = try workspace()
        let reference = w.appendingPathComponent("resume-ref"), resumed = w.appendingPathComponent("resume")
        try fusellmRun(trainArguments(w, fused: false, gradAccum: 2, output: "resume-ref"))
        try mpiRun(ranks: 2, trainArguments(w, fused: false, gradAccum: 1, output: "resume"))
        // Back to the state of a run stopped after step 2: its later checkpoint and final/ gone.
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: resumed.path) where name == "final" || (name.hasPrefix("checkpoint-") && name.hasSuffix("4")) {
            try fm.removeItem(at: resumed.appendingPathComponent(name))
        }
        let refused = try run(fusellm.path, trainArguments(w, fused: false, gradAccum: 1, output: "resume") + ["--resume"], expectSuccess: false)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("2 micro-batches"), refused.stderr)
        try fusellmRun(trainArguments(w, fused: false, gradAccum: 2, output: "resume") + ["--resume"])
        try assertSameRun(reference, resumed)
    }

    /// `mpirun -np 2 fusellm dump`: rank r writes part r/2, rank 0 joins them; the shards and manifest are those of one
    /// process, byte for byte; a lost shard is redone by running the same command again.
    func testTwoRanksDumpWhatOneProcessDumps() throws {
        let w = try workspace()
        func arguments(_ output: String) -> [String] {
            ["dump", "--prepared", w.appendingPathComponent("prepared").path, "--model", w.appendingPathComponent("target/final").path,
             "--output", w.appendingPathComponent(output).path, "--texts-per-shard", "2"]
        }
        try fusellmRun(arguments("dump-1") + ["--threads", "1"])
        try mpiRun(ranks: 2, arguments("dump-2"))
        let one = w.appendingPathComponent("dump-1"), two = w.appendingPathComponent("dump-2")
        let shards = try FileManager.default.contentsOfDirectory(atPath: one.path).filter { $0.hasPrefix("shard-") }.sorted()
        XCTAssertGreaterThan(shards.count, 2)
        for name in shards + ["manifest.json"] {
            XCTAssertEqual(try Data(contentsOf: one.appendingPathComponent(name)), try Data(contentsOf: two.appendingPathComponent(name)), name)
        }
        try FileManager.default.removeItem(at: two.appendingPathComponent(shards[1]))
        try FileManager.default.removeItem(at: two.appendingPathComponent("manifest.json"))
        try mpiRun(ranks: 2, arguments("dump-2"))
        XCTAssertEqual(try Data(contentsOf: one.appendingPathComponent(shards[1])), try Data(contentsOf: two.appendingPathComponent(shards[1])))
        XCTAssertEqual(try Data(contentsOf: one.appendingPathComponent("manifest.json")), try Data(contentsOf: two.appendingPathComponent("manifest.json")))
        // Commands that do not split their work refuse to run as N copies.
        let eval = try mpiRun(ranks: 2, ["eval", "--model", w.appendingPathComponent("target/final").path], expectSuccess: false)
        XCTAssertNotEqual(eval.status, 0)
        XCTAssertTrue(eval.stderr.contains("runs as one process"), eval.stderr)
    }

    /// Bad input on every rank: one clear error, a non-zero exit, no hang.
    func testAnErrorStopsEveryRank() throws {
        let w = try workspace()
        var arguments = trainArguments(w, fused: true, gradAccum: 1, output: "bad")
        arguments[arguments.firstIndex(of: "--teachers")! + 2] = w.appendingPathComponent("dumps/missing").path
        let r = try mpiRun(ranks: 2, arguments, expectSuccess: false)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("dumps/missing"), r.stderr)
    }
}
