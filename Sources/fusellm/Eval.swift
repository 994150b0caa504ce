import ArgumentParser
import FuseCorpus
import FuseTensor
import FuseText
import Foundation
import Llama
import Training

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity (and bits per byte) of models (HF directories or GGUFs) on a corpus, each with its own tokenizer; per domain with --by-domain.")

    @Option(parsing: .singleValue, help: "HF checkpoint directory or .gguf file (repeat to compare several).")
    var model: [String]
    @Option(parsing: .upToNextOption,
            help: "Corpus: parquet, .jsonl, .jsonl.zst or text files, directories or globs (EOS after each document, as in the reference).")
    var data: [String]
    @Option(help: "Field holding the text in parquet and JSON lines.") var textField: String = "text"
    @Option(help: "Field holding a document's domain (for --by-domain).") var domainField: String = "domain"
    @Flag(help: "Also report each domain separately.") var byDomain = false
    @Option(help: "Tokens per block (a shorter last block is scored too).") var blockSize: Int = 512
    @Option(help: "Write the results as JSON to this file as well.") var jsonOutput: String?
    @OptionGroup var compute: ComputeOptions

    struct Score {
        var lossSum = 0.0, tokens = 0, bytes = 0
        var perplexity: Double { Foundation.exp(lossSum / Double(max(tokens, 1))) }
        var bitsPerByte: Double { lossSum / Foundation.log(2) / Double(max(bytes, 1)) }
        mutating func add(_ o: Score) { lossSum += o.lossSum; tokens += o.tokens; bytes += o.bytes }
    }

    func run() throws {
        compute.apply()
        do {
            let documents = try Corpus(paths: data, textField: textField, domainField: byDomain ? domainField : nil)
                .documents().collect()
            guard !documents.isEmpty else { throw ValidationError("no documents in \(data.joined(separator: ", "))") }
            var groups: [(name: String, docs: [String])] = []
            if byDomain {
                var byName: [String: [String]] = [:]
                for d in documents { byName[d.domain ?? "(none)", default: []].append(d.text) }
                groups = byName.keys.sorted().map { ($0, byName[$0]!) }
            } else {
                groups = [("all", documents.map(\.text))]
            }
            var results: [[String: Any]] = []
            var table: [(model: String, scores: [String: Score], all: Score)] = []
            for path in model {
                let pretrained = try PretrainedModel.load(path: path)
                var scores: [String: Score] = [:], all = Score()
                for g in groups {
                    let s = try score(pretrained, documents: g.docs, label: "\(URL(fileURLWithPath: path).lastPathComponent) \(g.name)")
                    scores[g.name] = s
                    all.add(s)
                }
                table.append((path, scores, all))
                var entry: [String: Any] = ["model": pretrained.source, "perplexity": all.perplexity,
                                            "bits_per_byte": all.bitsPerByte, "tokens": all.tokens, "bytes": all.bytes,
                                            "loss": all.lossSum / Double(max(all.tokens, 1))]
                if byDomain {
                    entry["domains"] = scores.mapValues { ["perplexity": $0.perplexity, "bits_per_byte": $0.bitsPerByte,
                                                           "tokens": $0.tokens, "bytes": $0.bytes] as [String: Any] }
                }
                results.append(entry)
            }
            let json = try JSONSerialization.data(withJSONObject: ["data": data, "block_size": blockSize, "models": results],
                                                  options: [.sortedKeys, .withoutEscapingSlashes])
            if let jsonOutput { try json.write(to: URL(fileURLWithPath: jsonOutput), options: .atomic) }
            if byDomain || model.count > 1 { printTable(table, groups: groups.map(\.name)) }
            print(String(decoding: json, as: UTF8.self))
        } catch let e as ValidationError {
            throw e
        } catch {
            throw CleanExit(error)
        }
    }

    /// Next-token loss over the documents (EOS after each), in blocks of `blockSize` plus a shorter last one.
    func score(_ pretrained: PretrainedModel, documents: [String], label: String) throws -> Score {
        let tokenizer = pretrained.tokenizer, net = pretrained.model
        var tokens: [Int32] = []
        var result = Score()
        for doc in documents {
            tokens += tokenizer.encode(doc)
            if let eos = tokenizer.eosTokenID { tokens.append(eos) }
            result.bytes += doc.utf8.count
        }
        let T = min(blockSize, net.config.maxPositionEmbeddings)
        var progress = ProgressLine(total: (tokens.count + T - 1) / T, unit: "blocks")
        let began = Date()
        var start = 0, done = 0
        while tokens.count - start >= 2 {
            let n = min(T, tokens.count - start)
            let ids = Array(tokens[start..<(start + n)])
            let targets = Array(ids.dropFirst()) + [CrossEntropy.ignore]
            if let bad = ids.first(where: { Int($0) >= net.config.vocabSize }) {
                throw ValidationError("\(pretrained.source): token id \(bad) is outside the model's vocabulary")
            }
            let r = net.loss(ids: ids, targets: targets, batch: 1, seqLen: n)
            result.lossSum += r.lossSum
            result.tokens += r.count
            start += n
            done += 1
            progress.update(done: done, doneThisRun: done, rateValue: Double(start) / Date().timeIntervalSince(began),
                            rateUnit: "tok/s", detail: "\(label) ppl \(String(format: "%.3f", result.perplexity))")
        }
        guard result.lossSum.isFinite else {
            throw ValidationError("\(pretrained.source): the loss is not finite (weights hold NaN or inf?)")
        }
        return result
    }

    func printTable(_ table: [(model: String, scores: [String: Score], all: Score)], groups: [String]) {
        let names = table.map { URL(fileURLWithPath: $0.model).standardizedFileURL.pathComponents.suffix(2).joined(separator: "/") }
        let width = max(24, (groups + ["all"]).map(\.count).max()! + 2)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        var header = pad("perplexity (bits/byte)", width)
        for n in names { header += pad(n, 30) }
        print(header)
        for g in groups + ["all"] {
            var line = pad(g, width)
            for t in table {
                let s = g == "all" ? t.all : t.scores[g]!
                line += pad(String(format: "%.3f (%.3f)", s.perplexity, s.bitsPerByte), 30)
            }
            print(line)
        }
    }
}
