import Models
import FuseTensor
import Foundation
import Llama
import XCTest

/// The ensemble baseline's loss against a direct computation: softmax of each model's logits in Double,
/// probabilities averaged, −log of the target's mean probability.
final class OutputEnsembleTests: XCTestCase {
    let config = LlamaConfig(vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4,
                             maxPositionEmbeddings: 64, initializerRange: 0.5)

    func testMatchesTheMeanOfTheModelsProbabilities() {
        let models = (1...3).map { LlamaModel.randomlyInitialized(config: config, seed: UInt64($0)) }
        let ids: [Int32] = (0..<20).map { Int32(($0 * 7 + 3) % 64) }
        var targets = Array(ids.dropFirst()) + [CrossEntropy.ignore]
        targets[5] = CrossEntropy.ignore
        var expected = 0.0
        var probabilities = [[Double]](repeating: [Double](repeating: 0, count: 64), count: ids.count)
        for m in models {
            let logits = m.forward(ids: ids, batch: 1, seqLen: ids.count)
            for r in ids.indices {
                let row = (0..<64).map { Double(logits[r * 64 + $0]) }
                let z = row.map { exp($0) }.reduce(0, +)
                for v in 0..<64 { probabilities[r][v] += exp(row[v]) / z / 3 }
            }
        }
        for r in ids.indices where targets[r] != CrossEntropy.ignore { expected -= log(probabilities[r][Int(targets[r])]) }

        let got = OutputEnsemble.loss(models: models, ids: ids, targets: targets)
        XCTAssertEqual(got.count, 18)
        XCTAssertEqual(got.lossSum, expected, accuracy: 1e-5 * abs(expected))
        // The ensemble is no worse than its average member (Jensen), and differs from each.
        let members = models.map { $0.loss(ids: ids, targets: targets, batch: 1, seqLen: ids.count).lossSum }
        XCTAssertLessThanOrEqual(got.lossSum, members.reduce(0, +) / 3 + 1e-6)
        for m in members { XCTAssertNotEqual(m, got.lossSum, accuracy: 1e-4) }
    }

    func testOneModelIsItsOwnLoss() {
        let model = LlamaModel.randomlyInitialized(config: config, seed: 9)
        let ids: [Int32] = (0..<16).map { Int32(($0 * 5 + 1) % 64) }
        let targets = Array(ids.dropFirst()) + [CrossEntropy.ignore]
        let single = model.loss(ids: ids, targets: targets, batch: 1, seqLen: ids.count)
        let alone = OutputEnsemble.loss(models: [model], ids: ids, targets: targets)
        let twice = OutputEnsemble.loss(models: [model, model], ids: ids, targets: targets)
        XCTAssertEqual(alone.lossSum, single.lossSum, accuracy: 1e-5 * single.lossSum)
        XCTAssertEqual(twice.lossSum, single.lossSum, accuracy: 1e-5 * single.lossSum)
    }
}
