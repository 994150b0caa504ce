import Models
import ArgumentParser
import Distributed
import FuseCorpus
import FuseFormats
import FuseTensor
import FuseText
import Foundation
import Fusion
import Llama
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continually train a Llama model (causal-LM loss) and write HF checkpoints.")

    @Option(parsing: .upToNextOption,
            help: "Training corpus: parquet, .jsonl, .jsonl.zst or text files, directories or globs (EOS after each document).")
    var data: [String] = []

    @Option(help: "A directory made by fusellm prepare: train on its blocks (instead of --data); needed with --teachers.")
    var prepared: String?

    @Option(parsing: .upToNextOption, help: "Teacher dumps (fusellm dump), the target's own among them; enables fusion.")
    var teachers: [String] = []

    @Option(help: "Fusion function: mince, avgce, none, or single:NAME (NAME = a teacher directory's name).")
    var fusion: String = "mince"

    @Option(name: .customLong("lambda"), help: "Weight of the CLM loss: λ·CLM + (1−λ)·fusion loss.")
    var lambda: Double = 0.9

    @Option(help: "Vocabulary mapping of source tokens to target tokens: mined, em or ms (mapping statistics over the prepared corpus).") var vocabMap: String = "mined"

    @Option(help: "Fuse with only each source's N most likely tokens per position (at most the dumps' k; default: all of them).")
    var topK: Int?

    @Option(help: "Where a row that cannot take a source's distribution puts its one-hot: next (corrected) or current (as the reference).")
    var oneHot: String = "next"

    @Option(help: "How MinCE/AvgCE score a source on a block: ce (nats per source token, the reference) or bits-per-byte (the same bytes for every source).")
    var fusionMetric: String = "ce"

    @Option(help: "How a source's positions are paired with the target's: dtw (edit-distance DTW, the reference) or offsets (coinciding byte spans).")
    var alignment: String = "dtw"

    @Option(help: "Directory caching vocabulary maps (default: alignment-cache/ next to --prepared).")
    var alignCache: String?

    @Option(help: "Field holding the text in parquet and JSON lines.") var textField: String = "text"
    @Option(help: "Field holding a document's domain (for --domain).") var domainField: String = "domain"
    @Option(parsing: .singleValue, help: "With --data: train only on documents of this domain (repeat for several).")
    var domain: [String] = []

    @Option(help: "Model to continue training: an HF checkpoint directory or a .gguf file (its own tokenizer is used).")
    var initFrom: String?

    @Option(help: "config.json of a new, randomly initialised model (when not starting from --init-from).")
    var modelConfig: String?

    @Option(help: "Tokenizer of a new model (directory, tokenizer.json, tokenizer.model or .gguf); bytes when absent.")
    var tokenizer: String?

    @Option(help: "Run directory: checkpoints, metrics.jsonl, final/.")
    var output: String

    @Option(help: "Optimizer steps.") var steps: Int = 100
    @Option(help: "Blocks per micro-batch.") var batchSize: Int = 4
    @Option(help: "Micro-batches per optimizer step (per rank under mpirun/srun: the step takes ranks × this many).") var gradAccum: Int = 1
    @Option(help: "Tokens per block.") var blockSize: Int = 256
    @Option(help: "Peak learning rate.") var lr: Double = 1e-5
    @Option(help: "Share of steps spent in linear warmup.") var warmupRatio: Double = 0.008
    @Option(help: "Cosine decay floor, as a share of the peak rate.") var minLrRatio: Double = 0
    @Option(help: "AdamW β1.") var beta1: Double = 0.9
    @Option(help: "AdamW β2.") var beta2: Double = 0.95
    @Option(help: "AdamW epsilon.") var eps: Double = 1e-8
    @Option(help: "AdamW weight decay (not applied to norm weights).") var weightDecay: Double = 0.1
    @Option(help: "Gradient-norm clipping threshold (0 disables).") var maxGradNorm: Double = 1.0
    @Option(help: "Seed for initialisation and data order.") var seed: UInt64 = 42
    @Option(help: "Write a checkpoint every N steps.") var checkpointEvery: Int = 50
    @Option(help: "How many checkpoints to keep.") var keepCheckpoints: Int = 2
    @Option(help: "dtype of written weights: f32, f16, bf16.") var saveDtype: String = "f32"
    @Option(help: "Share of blocks held out for evaluation before and after training.") var evalFraction: Double = 0.05
    @Flag(help: "Continue from the newest checkpoint in --output.") var resume = false
    @Flag(help: "Skip a step whose loss or gradient is NaN or infinite (reported with its blocks) instead of stopping.")
    var skipNonFinite = false
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var precision: PrecisionOption

    func run() throws {
        try DistributedRun.run(compute) { group in try train(group: group) }
    }

    private func train(group: ProcessGroup) throws {
        var config = TrainConfig()
        config.learningRate = lr
        config.warmupRatio = warmupRatio
        config.minLRRatio = minLrRatio
        config.adam = AdamWHyperparameters(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay)
        config.maxGradNorm = maxGradNorm
        config.batchSize = batchSize
        config.gradAccumulation = gradAccum * group.size  // the global count: what a checkpoint's data order depends on
        config.blockSize = blockSize
        config.totalSteps = steps
        config.seed = seed
        config.checkpointEvery = checkpointEvery
        config.keepCheckpoints = keepCheckpoints
        config.saveDtype = saveDtype
        config.skipNonFinite = skipNonFinite
        if !teachers.isEmpty {
            config.fusionLambda = lambda
            config.fusion = "\(fusion) vocab-map=\(vocabMap) one-hot=\(oneHot)\(topK.map { " top-k=\($0)" } ?? "")"
                + "\(fusionMetric == FusionMetric.ce.rawValue ? "" : " metric=\(fusionMetric)")"
                + "\(alignment == AlignmentMethod.dtw.rawValue ? "" : " alignment=\(alignment)") teachers=\(teachers.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ","))"
        }
        try config.validate()

        let chosen = try precision.checked()
        let (model, textTokenizer, targetTokenizer, companionFiles) = try loadModelAndTokenizer()
        model.precision = chosen
        let all: TokenBlocks
        var fusionSetup: FusionSetup?
        if let prepared {
            guard data.isEmpty, domain.isEmpty else { throw ValidationError("give --data (with --domain) or --prepared, not both") }
            let corpus = try PreparedCorpus(directory: URL(fileURLWithPath: prepared))
            guard blockSize == corpus.blockSize else {
                throw ValidationError("--block-size \(blockSize) differs from the prepared blocks' \(corpus.blockSize) (\(prepared))")
            }
            var tokens: [Int32] = []
            tokens.reserveCapacity(corpus.blockCount * corpus.blockSize)
            for b in 0..<corpus.blockCount { tokens += try corpus.block(b).tokens }
            all = TokenBlocks(tokens: tokens, blockSize: blockSize)
            if !teachers.isEmpty {
                guard let target = targetTokenizer else {
                    throw ValidationError("fusion needs the target's tokenizer: give --init-from MODEL or --tokenizer")
                }
                guard let method = VocabularyMethod(name: vocabMap) else { throw ValidationError("--vocab-map must be \(VocabularyMethod.choices)") }
                guard let placement = OneHotPlacement(rawValue: oneHot) else { throw ValidationError("--one-hot must be next or current") }
                guard let metric = FusionMetric(rawValue: fusionMetric) else { throw ValidationError("--fusion-metric must be ce or bits-per-byte") }
                guard let pairing = AlignmentMethod(rawValue: alignment) else { throw ValidationError("--alignment must be dtw or offsets") }
                let cache = alignCache.map { URL(fileURLWithPath: $0) }
                    ?? URL(fileURLWithPath: prepared).deletingLastPathComponent().appendingPathComponent("alignment-cache")
                fusionSetup = try FusionSetup.make(prepared: corpus, target: target, teachers: teachers,
                                                   fusion: try FusionFunctions.make(fusion), method: method,
                                                   oneHot: placement, cache: cache, topK: topK, metric: metric, alignment: pairing)
            }
        } else {
            guard !data.isEmpty else { throw ValidationError("give --data FILES or --prepared DIR") }
            guard teachers.isEmpty else { throw ValidationError("--teachers needs --prepared (the blocks the dumps were made from)") }
            guard topK == nil else { throw ValidationError("--top-k is for fused training (--prepared with --teachers)") }
            guard fusionMetric == FusionMetric.ce.rawValue else { throw ValidationError("--fusion-metric is for fused training (--prepared with --teachers)") }
            guard alignment == AlignmentMethod.dtw.rawValue else { throw ValidationError("--alignment is for fused training (--prepared with --teachers)") }
            let wanted = Set(domain)
            let documents = try Corpus(paths: data, textField: textField, domainField: wanted.isEmpty ? nil : domainField)
                .documents().collect().filter { wanted.isEmpty || wanted.contains($0.domain ?? "") }.map(\.text)
            guard !documents.isEmpty else {
                throw ValidationError("no documents in \(data.joined(separator: ", "))\(wanted.isEmpty ? "" : " of domain \(domain.joined(separator: ", "))")")
            }
            all = try TokenBlocks.fromDocuments(documents, tokenizer: textTokenizer, blockSize: blockSize,
                                                source: data.joined(separator: ", "))
        }
        let (trainBlocks, heldOut) = all.split(heldOutFraction: evalFraction)
        let out = URL(fileURLWithPath: output)
        let trainer = try Trainer(model: model, data: trainBlocks, config: config, output: out)
        trainer.companionFiles = companionFiles
        trainer.group = group
        let say = { (line: String) in if group.isFirst { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
        if let fusionSetup {
            trainer.softTargets = { block in try fusionSetup.builder.targets(block: block) }
            trainer.stepMetrics = { group in
                ["fusion": try FusionStatistics.gathered(fusionSetup.builder.takeStatistics(), group: group,
                                                         blocksPerMicroBatch: batchSize).jsonObject]
            }
            say("fusion: \(fusion), λ = \(lambda), teachers \(fusionSetup.teacherNames.joined(separator: ", ")) (\(fusionSetup.teacherNames[0]) is the target's own)")
        }
        let params = Double(model.layout.totalCount) / 1e6
        say(String(format: "model: %.2fM parameters, %d layers; data: %d training blocks, %d held out; %d tokens/step",
                   params, model.config.numLayers, trainBlocks.count, heldOut.count, config.tokensPerStep))
        if group.size > 1 {
            say("data parallel: \(group.size) ranks × \(gradAccum) micro-batch\(gradAccum == 1 ? "" : "es") of \(batchSize) blocks = a global batch of \(config.gradAccumulation * batchSize) blocks per step; \(Parallel.threads) thread\(Parallel.threads == 1 ? "" : "s") per rank")
        }
        let before = heldOut.count > 0 && !resume ? try Trainer.evaluate(model: model, blocks: heldOut, batchSize: batchSize, group: group) : nil
        try trainer.run(resume: resume)
        var report: [String: Any] = ["output": out.appendingPathComponent("final").path, "steps": steps]
        if heldOut.count > 0 {
            let after = try Trainer.evaluate(model: model, blocks: heldOut, batchSize: batchSize, group: group)
            if let before { report["heldout_ppl_before"] = before.perplexity }
            report["heldout_ppl_after"] = after.perplexity
            report["heldout_tokens"] = after.tokens
        }
        guard group.isFirst else { return }
        let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: json, as: UTF8.self))
    }

    /// The model, the tokenizer its data is cut with (the model's own, or bytes for a new model without one), that
    /// tokenizer when it is a real vocabulary (what fusion aligns to), and the tokenizer files every checkpoint carries.
    private func loadModelAndTokenizer() throws -> (LlamaModel, any TextTokenizer, BPETokenizer?, [String: Data]) {
        if let initFrom {
            guard tokenizer == nil else { throw ValidationError("--tokenizer is for new models; --init-from uses the model's own") }
            let pretrained = try Pretrained<LlamaModel>.load(path: initFrom)
            return (pretrained.model, pretrained.tokenizer, pretrained.tokenizer, try pretrained.tokenizerFiles())
        }
        guard let modelConfig else { throw ValidationError("give --init-from MODEL or --model-config config.json") }
        let model = LlamaModel.randomlyInitialized(config: try LlamaConfig.load(from: URL(fileURLWithPath: modelConfig)), seed: seed)
        guard let tokenizer else {
            guard model.config.vocabSize >= ByteTokenizer().vocabSize else {
                throw TrainingError("the byte tokenizer needs vocab_size >= 256; \(modelConfig) has \(model.config.vocabSize)")
            }
            return (model, ByteTokenizer(), nil, [:])
        }
        let bpe = try BPETokenizer.load(path: tokenizer)
        guard bpe.vocabSize <= model.config.vocabSize else {
            throw TrainingError("\(tokenizer) has \(bpe.vocabSize) tokens but \(modelConfig) has vocab_size \(model.config.vocabSize)")
        }
        let files = try bpe.hfTokenizerFiles(addsBOS: false, maxLength: model.config.maxPositionEmbeddings)
        return (model, bpe, bpe, files)
    }
}
