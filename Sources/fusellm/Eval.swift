import ArgumentParser
import FuseCorpus
import FuseText
import Foundation
import Llama
import Training

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a model (HF directory or GGUF) on text files, tokenized with the model's own tokenizer.")

    @Option(help: "HF checkpoint directory or .gguf file.") var model: String
    @Option(parsing: .upToNextOption,
            help: "Corpus: parquet, .jsonl, .jsonl.zst or text files, directories or globs (EOS after each document, as in the reference).")
    var data: [String]
    @Option(help: "Field holding the text in parquet and JSON lines.") var textField: String = "text"
    @Option(help: "Tokens per block.") var blockSize: Int = 512
    @Option(help: "Blocks per forward pass.") var batchSize: Int = 1
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        do {
            let pretrained = try PretrainedModel.load(path: model)
            let docs = try Corpus(paths: data, textField: textField).documents().collect().map(\.text)
            let blocks = try TokenBlocks.fromDocuments(docs, tokenizer: pretrained.tokenizer, blockSize: blockSize,
                                                       source: data.joined(separator: ", "))
            let r = try Trainer.evaluate(model: pretrained.model, blocks: blocks, batchSize: batchSize, showProgress: true)
            let json = try JSONSerialization.data(withJSONObject: [
                "model": pretrained.source, "data": data, "block_size": blockSize, "blocks": blocks.count,
                "loss": r.loss, "perplexity": r.perplexity, "tokens": r.tokens,
            ], options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: json, as: UTF8.self))
        } catch {
            throw CleanExit(error)
        }
    }
}
