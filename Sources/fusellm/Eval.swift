import ArgumentParser
import FuseText
import Foundation
import Llama
import Training

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a checkpoint on a text file (byte tokens until real tokenizers land).")

    @Option(help: "HF checkpoint directory.") var model: String
    @Option(help: "UTF-8 text file.") var data: String
    @Option(help: "Tokens per block.") var blockSize: Int = 256
    @Option(help: "Blocks per forward pass.") var batchSize: Int = 4
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        do {
            let m = try LlamaModel.load(directory: URL(fileURLWithPath: model))
            let blocks = try TokenBlocks.fromTextFile(URL(fileURLWithPath: data), blockSize: blockSize)
            let r = Trainer.evaluate(model: m, blocks: blocks, batchSize: batchSize)
            let json = try JSONSerialization.data(withJSONObject: ["loss": r.loss, "perplexity": r.perplexity, "tokens": r.tokens],
                                                  options: [.sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        } catch {
            throw CleanExit(error)
        }
    }
}
