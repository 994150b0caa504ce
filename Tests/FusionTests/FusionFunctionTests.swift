import FuseFormats
import FuseTensor
import Fusion
import Foundation
import Llama
import XCTest
import TestSupport

/// MinCE, AvgCE and the fused loss against scripts/make-fusion-fixtures.py (PyTorch, the reference's dense
/// formulation): fused distributions, loss and every parameter gradient.
final class FusionFunctionTests: XCTestCase {
    struct Case {
        let teachers: [[TeacherSignal]]  // per block
        let ids: [Int32]
        let batch: Int, seqLen: Int, vocab: Int
        let lambda: Float
        let expected: SafetensorsFile
    }

    func loadCase() throws -> Case {
        let dir = Fixtures.root.appendingPathComponent("fusion")
        let t = try SafetensorsFile(url: dir.appendingPathComponent("teachers.safetensors"))
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("meta.json"))) as! [String: Any]
        let (S, W, B, T) = (meta["teachers"] as! Int, meta["width"] as! Int, meta["batch"] as! Int, meta["seq_len"] as! Int)
        let ids = try t.integers("ids").map { Int32($0) }, logits = try t.floats("logits"), ce = try t.floats("ce")
        var blocks: [[TeacherSignal]] = []
        for b in 0..<B {
            blocks.append((0..<S).map { s in
                let all = AlignedDistributions(positions: B * T, width: W, ids: Array(ids[s * B * T * W..<(s + 1) * B * T * W]),
                                               logits: Array(logits[s * B * T * W..<(s + 1) * B * T * W]))
                return TeacherSignal(name: "t\(s)", distributions: all.slice(b * T..<(b + 1) * T), ce: Double(ce[b * S + s]))
            })
        }
        return Case(teachers: blocks, ids: try t.integers("input_ids").map { Int32($0) }, batch: B, seqLen: T, vocab: 128,
                    lambda: Float(meta["lambda"] as! Double),
                    expected: try SafetensorsFile(url: dir.appendingPathComponent("expected.safetensors")))
    }

    func fused(_ f: any FusionFunction, _ c: Case) throws -> SparseTargets {
        var all = SparseTargets()
        for block in c.teachers { all.append(try XCTUnwrap(f.fuse(block))) }
        return all
    }

    func dense(_ s: SparseTargets, vocab: Int) -> [Float] {
        var out = [Float](repeating: 0, count: s.rows * vocab)
        for r in 0..<s.rows {
            let (ids, probs) = s.row(r)
            XCTAssertEqual(Set(ids).count, ids.count, "row \(r) lists an id twice")
            for (i, p) in zip(ids, probs) { out[r * vocab + Int(i)] += p }
        }
        return out
    }

    func testFusedDistributionsMatchTheReference() throws {
        let c = try loadCase()
        for f in [MinCEFusion(), AvgCEFusion()] as [any FusionFunction] {
            let want = try c.expected.floats("\(f.name).fused")
            let got = dense(try fused(f, c), vocab: c.vocab)
            let err = zip(got, want).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(err, 1e-6, f.name)
        }
        let weights = try c.expected.floats("weights_avgce")
        for (b, block) in c.teachers.enumerated() {
            for (s, w) in AvgCEFusion.weights(block).enumerated() { XCTAssertEqual(w, weights[b * block.count + s], accuracy: 1e-6) }
        }
    }

    func testFusedLossAndGradientsMatchPyTorch() throws {
        let c = try loadCase()
        let model = try LlamaModel.load(directory: Fixtures.llama("gqa_untied"))
        var targets = c.ids
        for b in 0..<c.batch {
            for t in 0..<c.seqLen { targets[b * c.seqLen + t] = t + 1 < c.seqLen ? c.ids[b * c.seqLen + t + 1] : CrossEntropy.ignore }
        }
        for f in [MinCEFusion(), AvgCEFusion()] as [any FusionFunction] {
            let soft = try fused(f, c)
            let hardCount = CrossEntropy.countTargets(targets, rows: targets.count)
            model.zeroGradients()
            let r = model.forwardBackward(ids: c.ids, batch: c.batch, seqLen: c.seqLen) { logits, rows, vocab in
                targets.withUnsafeBufferPointer {
                    MixedCrossEntropy.lossAndGradient(logits: logits, rows: rows, vocab: vocab, hardTargets: $0.baseAddress!,
                                                      hardWeight: c.lambda / Float(hardCount),
                                                      soft: soft, softWeight: (1 - c.lambda) / Float(soft.nonEmptyRows))
                }
            }
            let loss = Double(c.lambda) * r.hard.mean + Double(1 - c.lambda) * r.soft.mean
            XCTAssertEqual(Float(r.hard.mean), try c.expected.floats("\(f.name).clm")[0], accuracy: 1e-5, f.name)
            XCTAssertEqual(Float(r.soft.mean), try c.expected.floats("\(f.name).soft")[0], accuracy: 1e-5, f.name)
            XCTAssertEqual(Float(loss), try c.expected.floats("\(f.name).loss")[0], accuracy: 1e-5, f.name)
            guard f.name == "avgce" else { continue }
            var worst: Float = 0
            for e in model.layout.entries {
                let err = relativeError(model.gradients!.pointer + e.offset, try c.expected.floats("grad." + e.name))
                XCTAssertLessThan(err, 1e-4, "gradient of \(e.name)")
                worst = max(worst, err)
            }
            print("fused loss \(loss); worst gradient rel err \(worst)")
        }
    }

    func testMinCEPicksTheLowestCEPerBlockAndTiesGoToTheTarget() throws {
        let d = AlignedDistributions(positions: 1, width: 1, ids: [5], logits: [0])
        let e = AlignedDistributions(positions: 1, width: 1, ids: [9], logits: [0])
        let tie = try XCTUnwrap(MinCEFusion().fuse([TeacherSignal(name: "target", distributions: d, ce: 2),
                                                    TeacherSignal(name: "s", distributions: e, ce: 2)]))
        XCTAssertEqual(Array(tie.row(0).ids), [5])
        let lower = try XCTUnwrap(MinCEFusion().fuse([TeacherSignal(name: "target", distributions: d, ce: 2),
                                                      TeacherSignal(name: "s", distributions: e, ce: 1.5)]))
        XCTAssertEqual(Array(lower.row(0).ids), [9])
        XCTAssertNil(try NoFusion().fuse([TeacherSignal(name: "target", distributions: d, ce: 2)]))
        let single = try XCTUnwrap(FusionFunctions.make("single:s").fuse([TeacherSignal(name: "target", distributions: d, ce: 1),
                                                                          TeacherSignal(name: "s", distributions: e, ce: 3)]))
        XCTAssertEqual(Array(single.row(0).ids), [9])
    }

    func testBadTeachersAreRefusedWithTheirName() throws {
        let d = AlignedDistributions(positions: 2, width: 1, ids: [5, 6], logits: [0, 0])
        let short = AlignedDistributions(positions: 1, width: 1, ids: [5], logits: [0])
        XCTAssertThrowsError(try AvgCEFusion().fuse([TeacherSignal(name: "target", distributions: d, ce: 2),
                                                     TeacherSignal(name: "smol", distributions: d, ce: .nan)])) {
            XCTAssertTrue("\($0)".contains("smol") && "\($0)".contains("non-finite"), "\($0)")
        }
        XCTAssertThrowsError(try MinCEFusion().fuse([TeacherSignal(name: "target", distributions: d, ce: 2),
                                                     TeacherSignal(name: "short", distributions: short, ce: 1)])) {
            XCTAssertTrue("\($0)".contains("short"), "\($0)")
        }
        XCTAssertThrowsError(try FusionFunctions.make("median"))
        XCTAssertThrowsError(try FusionFunctions.make("single:nobody").fuse([TeacherSignal(name: "target", distributions: d, ce: 2)]))
    }
}
