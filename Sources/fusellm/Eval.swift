import Models
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
    @Flag(help: "Score the models as one output ensemble (the mean of their next-token distributions); they must share a tokenizer.")
    var ensemble = false
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var precision: PrecisionOption

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
            for scorer in try scorers() {
                var scores: [String: Score] = [:], all = Score()
                for g in groups {
                    let s = try score(scorer, documents: g.docs, label: "\(scorer.label) \(g.name)")
                    scores[g.name] = s
                    all.add(s)
                }
                table.append((scorer.label, scores, all))
                var entry: [String: Any] = ["model": scorer.source, "perplexity": all.perplexity,
                                            "bits_per_byte": all.bitsPerByte, "tokens": all.tokens, "bytes": all.bytes,
                                            "loss": all.lossSum / Double(max(all.tokens, 1))]
                if ensemble { entry["ensemble"] = model }
                if byDomain {
                    entry["domains"] = scores.mapValues { ["perplexity": $0.perplexity, "bits_per_byte": $0.bitsPerByte,
                                                           "tokens": $0.tokens, "bytes": $0.bytes] as [String: Any] }
                }
                results.append(entry)
            }
            let json = try JSONSerialization.data(withJSONObject: ["data": data, "block_size": blockSize, "models": results],
                                                  options: [.sortedKeys, .withoutEscapingSlashes])
            if let jsonOutput { try json.write(to: URL(fileURLWithPath: jsonOutput), options: .atomic) }
            if byDomain || table.count > 1 { printTable(table, groups: groups.map(\.name)) }
            print(String(decoding: json, as: UTF8.self))
        } catch let e as ValidationError {
            throw e
        } catch {
            throw CleanExit(error)
        }
    }

    /// What scores a block: one model, or an output ensemble of models sharing a tokenizer.
    struct Scorer {
        let label: String, source: String
        let tokenizer: BPETokenizer
        let vocabSize: Int, maxPositions: Int
        /// The model's BOS when it expects one first (Gemma): each block then starts with it and every text token is scored.
        let bos: Int32?
        /// Σ −log p(next token) and the count over one block of ids (targets: ids shifted, last ignored).
        let blockLoss: (_ ids: [Int32], _ targets: [Int32]) -> CrossEntropy.Result
    }

    /// A model's name in tables and progress lines: its last two path components.
    static func shortName(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.pathComponents.suffix(2).joined(separator: "/")
    }

    func scorers() throws -> [Scorer] {
        let chosen = try precision.checked()
        let loaded = try model.map { try PretrainedModel.load(path: $0) }
        for m in loaded { m.model.precision = chosen }
        if !ensemble {
            return zip(model, loaded).map { path, m in
                Scorer(label: Self.shortName(path), source: m.source, tokenizer: m.tokenizer, vocabSize: m.model.vocabSize,
                       maxPositions: m.model.maxSequenceLength, bos: m.prependedBOS) { ids, targets in
                    m.model.loss(ids: ids, targets: targets, batch: 1, seqLen: ids.count)
                }
            }
        }
        guard loaded.count >= 2 else { throw ValidationError("--ensemble needs at least two --model") }
        let first = loaded[0]
        for (path, m) in zip(model, loaded).dropFirst() {
            guard m.tokenizer.fingerprint == first.tokenizer.fingerprint, m.model.vocabSize == first.model.vocabSize, m.addsBOS == first.addsBOS else {
                throw ValidationError("\(path): its tokenizer or vocabulary size differs from \(model[0])'s; an output ensemble "
                                      + "averages distributions over one vocabulary, so its models must share a tokenizer")
            }
        }
        let label = "ensemble(\(model.map(Self.shortName).joined(separator: ", ")))"
        let models = loaded.map(\.model)
        return [Scorer(label: label, source: label, tokenizer: first.tokenizer, vocabSize: first.model.vocabSize,
                       maxPositions: loaded.map(\.model.maxSequenceLength).min()!, bos: first.prependedBOS) { ids, targets in
            OutputEnsemble.loss(models: models, ids: ids, targets: targets)
        }]
    }

    /// Next-token loss over the documents (EOS after each), in blocks of `blockSize` plus a shorter last one.
    func score(_ scorer: Scorer, documents: [String], label: String) throws -> Score {
        var tokens: [Int32] = []
        var result = Score()
        for doc in documents {
            tokens += scorer.tokenizer.encode(doc)
            if let eos = scorer.tokenizer.eosTokenID { tokens.append(eos) }
            result.bytes += doc.utf8.count
        }
        let T = min(blockSize, scorer.maxPositions)
        var progress = ProgressLine(total: (tokens.count + T - 1) / T, unit: "blocks")
        let began = Date()
        var start = 0, done = 0
        // Without BOS a block's first token is context only; with BOS (as the model was trained) it is predicted too.
        let lead = scorer.bos == nil ? 0 : 1
        while tokens.count - start >= 2 - lead {
            let n = min(T - lead, tokens.count - start)
            let text = Array(tokens[start..<(start + n)])
            let ids = scorer.bos.map { [$0] + text } ?? text
            let targets = Array(ids.dropFirst()) + [CrossEntropy.ignore]
            if let bad = ids.first(where: { Int($0) >= scorer.vocabSize }) {
                throw ValidationError("\(scorer.source): token id \(bad) is outside the model's vocabulary")
            }
            let r = scorer.blockLoss(ids, targets)
            result.lossSum += r.lossSum
            result.tokens += r.count
            start += n
            done += 1
            progress.update(done: done, doneThisRun: done, rateValue: Double(start) / Date().timeIntervalSince(began),
                            rateUnit: "tok/s", detail: "\(label) ppl \(String(format: "%.3f", result.perplexity))")
        }
        guard result.lossSum.isFinite else {
            throw ValidationError("\(scorer.source): the loss is not finite (weights hold NaN or inf?)")
        }
        return result
    }

    func printTable(_ table: [(model: String, scores: [String: Score], all: Score)], groups: [String]) {
        let names = table.map(\.model)
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
