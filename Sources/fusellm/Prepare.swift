import ArgumentParser
import FuseCorpus
import FuseText
import Foundation
import Fusion
import Llama
import Training

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cut a corpus into texts (EOS per document, long documents cut as the reference does) and blocks of target tokens; resumable.",
        discussion: "Layout and rules: docs/prepare-and-dump.md. Re-running the same command continues a killed run.")

    @Option(parsing: .upToNextOption, help: "Corpus: parquet, .jsonl, .jsonl.zst or text files, directories or globs.")
    var data: [String]
    @Option(help: "Output directory (prepared.json, texts-*.bin, index.bin).") var output: String
    @Option(help: "Target model (HF directory or .gguf): its tokenizer cuts the blocks.") var target: String?
    @Option(help: "The target's tokenizer alone (tokenizer.json, tokenizer.model, directory or .gguf), instead of --target.")
    var tokenizer: String?
    @Option(help: "A source model's tokenizer (repeatable), used only to cut long documents by the tokenizer that counts the most tokens.")
    var alsoTokenizer: [String] = []
    @Option(help: "Target tokens per block.") var blockSize = 2048
    @Option(help: "Documents longer than this under any of the tokenizers are cut into pieces of this many tokens.")
    var maxTextTokens = 2000
    @Option(help: "Texts per chunk file (the unit a killed run resumes from).") var textsPerChunk = 4096
    @Option(help: "Prepare only the first N documents.") var limitDocuments: Int?
    @Option(help: "Field holding the text in parquet and JSON lines.") var textField = "text"
    @Option(help: "Field holding the document's domain (parquet column; JSON key, dots for nested keys as in meta.pile_set_name); empty for none.")
    var domainField = "domain"
    @Option(help: "Invalid JSON lines: stop or skip.") var invalidLines = "stop"
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        guard (target == nil) != (tokenizer == nil) else { throw ValidationError("give exactly one of --target and --tokenizer") }
        guard let policy = InvalidLinePolicy(rawValue: invalidLines) else { throw ValidationError("--invalid-lines must be stop or skip") }
        do {
            let targetPath = target ?? tokenizer!
            let targetTokenizer = try BPETokenizer.load(path: targetPath)
            let also = try alsoTokenizer.map { (try BPETokenizer.load(path: $0), $0) }
            let corpus = try Corpus(paths: data, textField: textField, invalidLines: policy,
                                    domainField: domainField.isEmpty ? nil : domainField)
            var options = PrepareOptions()
            options.blockSize = blockSize
            options.maxTextTokens = maxTextTokens
            options.textsPerChunk = textsPerChunk
            options.limitDocuments = limitDocuments
            let writer = try PreparedCorpusWriter(corpus: corpus, target: targetTokenizer, targetSource: targetPath,
                                                  also: also, options: options, output: URL(fileURLWithPath: output))
            let total = min(try corpus.count(), limitDocuments ?? .max)
            var line = ProgressLine(total: total, unit: "documents")
            let start = DispatchTime.now().uptimeNanoseconds
            let m = try writer.run { p in
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                line.update(done: p.documents, doneThisRun: p.documentsThisRun, rateValue: Double(p.tokensThisRun) / max(seconds, 1e-9),
                            rateUnit: "tokens/s", detail: "\(p.texts) texts, \(p.chunksWritten + p.resumedChunks) chunks")
            }
            let c = m.counts!
            let summary: [String: Any] = [
                "output": output, "documents": c.documents, "empty_documents": c.emptyDocuments,
                "split_documents": c.splitDocuments, "texts": c.texts, "tokens": c.tokens, "blocks": c.blocks,
                "block_size": m.settings.blockSize, "dropped_tail_tokens": c.droppedTailTokens,
                "chunks": m.chunks.count, "blocks_fingerprint": m.blocksFingerprint ?? "",
                "target_tokenizer": m.settings.target.fingerprint,
                "domains": (m.domains ?? []).map { ["name": $0.name, "documents": $0.documents, "tokens": $0.tokens] },
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
        } catch {
            throw CleanExit(error)
        }
    }
}
