import Distributed
import FuseFormats
import FuseTensor
import FuseText
import Foundation
import Llama

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One optimizer step's record.
public struct StepRecord: Sendable {
    public let step: Int
    public let loss: Double
    public let lr: Double
    public let gradNorm: Double
    public let blocks: [Int]
}

/// Causal-LM continual training: AdamW, warmup + cosine schedule, gradient accumulation and
/// clipping, periodic atomic checkpoints, and exact resumption.
public final class Trainer {
    public let model: LlamaModel
    public let data: TokenBlocks
    public let config: TrainConfig
    public let output: URL
    public let optimizer: AdamW
    private let store: CheckpointStore
    private var order: BlockOrder
    /// Called after every step (tests read losses from here).
    public var onStep: ((StepRecord) -> Void)?
    public var quiet = false
    /// Files written next to the weights in every checkpoint and in final/ (tokenizer.json, tokenizer_config.json),
    /// so each checkpoint loads as a complete model.
    public var companionFiles: [String: Data] = [:]
    /// The fusion loss's soft targets for a training block ([blockSize] rows), or nil for none; used when
    /// `config.fusionLambda` < 1. Must give the same targets for the same block every time (resume is exact).
    public var softTargets: ((_ block: Int) throws -> SparseTargets?)?
    /// More fields for each metrics.jsonl line, covering the steps since the previous line (fusion statistics).
    /// Every rank calls it at the same steps, so it may gather what the other ranks recorded through the group.
    public var stepMetrics: ((ProcessGroup) throws -> [String: Any])?
    /// The ranks training together (data parallelism, docs/distributed.md). Rank r computes micro-batches r, r + N, …
    /// of every step's `config.gradAccumulation` (the global count), the gradients are summed across ranks, and
    /// every rank applies the same update, so N ranks take the steps one process would. Only rank 0 writes files.
    public var group: ProcessGroup = SingleProcess()
    /// Sum of this process's micro-batch gradients when it computes more than one per step. Each micro-batch's
    /// gradient is computed alone and then added (as PyTorch's .grad accumulation does), so the sum is the same
    /// whichever process computed each part — which is what makes N ranks equal one process.
    private var accumulated: FloatBuffer?

    public init(model: LlamaModel, data: TokenBlocks, config: TrainConfig, output: URL) throws {
        try config.validate()
        guard data.blockSize == config.blockSize else {
            throw TrainingError("data blocks have \(data.blockSize) tokens but the run uses block size \(config.blockSize)")
        }
        guard data.count > 0 else { throw TrainingError("no training blocks") }
        try Trainer.checkCompatible(model: model, blocks: data)
        self.model = model
        self.data = data
        self.config = config
        self.output = output
        optimizer = AdamW(parameterCount: model.layout.totalCount, hyper: config.adam)
        store = CheckpointStore(directory: output)
        order = BlockOrder(blockCount: data.count, seed: config.seed)
    }

    private var state: TrainerState {
        TrainerState(step: optimizer.step, config: config, blockCount: data.count, dataFingerprint: fingerprint(data.tokens))
    }

    /// Restores the newest complete checkpoint in the output directory. Returns its step, or nil when there is none.
    public func resumeFromLatest() throws -> Int? {
        guard let latest = store.checkpoints().last else { return nil }
        let saved = try CheckpointStore.load(latest.url, into: model, optimizer: optimizer)
        let current = state
        var expected = saved.config, actual = current.config
        // Bookkeeping settings may change on resume; anything that changes the numbers may not.
        for c in [\TrainConfig.checkpointEvery, \TrainConfig.keepCheckpoints, \TrainConfig.logEvery] as [WritableKeyPath<TrainConfig, Int>] {
            expected[keyPath: c] = 0
            actual[keyPath: c] = 0
        }
        expected.saveDtype = ""
        actual.saveDtype = ""
        if expected.gradAccumulation != actual.gradAccumulation {
            throw TrainingError("\(latest.url.path): checkpoint takes \(expected.gradAccumulation) micro-batches per step, this run \(actual.gradAccumulation) (ranks × --grad-accum); a resume must keep the global batch — with N ranks give --grad-accum \(expected.gradAccumulation)/N")
        }
        guard expected == actual else {
            throw TrainingError("\(latest.url.path): checkpoint was made with different training settings; use a new --output or the same settings")
        }
        guard saved.blockCount == current.blockCount, saved.dataFingerprint == current.dataFingerprint else {
            throw TrainingError("\(latest.url.path): checkpoint was made on different training data")
        }
        return saved.step
    }

    /// Trains until `config.totalSteps` (or `stopAfter` steps, for tests of interruption) and
    /// writes the final model to `output/final`. Returns the step records of this run.
    @discardableResult
    public func run(resume: Bool, stopAfter: Int? = nil) throws -> [StepRecord] {
        let ranks = group.size, writes = group.isFirst
        guard config.gradAccumulation % ranks == 0 else {
            throw TrainingError("\(config.gradAccumulation) micro-batches per step cannot be shared by \(ranks) ranks")
        }
        // Rank 0 writes the directory: it holds it for the run, so a second training started on the same --output by
        // mistake stops before it removes this run's partial checkpoint or writes its own.
        let directoryLock = writes ? try DirectoryLock(output, mode: .exclusive, purpose: "fusellm train") : nil
        defer { withExtendedLifetime(directoryLock) {} }
        if writes { store.removeStalePartials() }
        group.barrier()  // the directory exists and holds no partial checkpoint before any rank looks into it
        let resumedStep = resume ? try resumeFromLatest() : nil
        if !resume, !store.checkpoints().isEmpty {
            throw TrainingError("\(output.path) already holds checkpoints; pass --resume to continue or choose a new --output")
        }
        try checkRanksAgree(resumedStep: resumedStep)
        let metrics = writes ? try MetricsLog(url: output.appendingPathComponent("metrics.jsonl"), resumeStep: resumedStep ?? (resume ? 0 : nil)) : nil
        let schedule = config.schedule
        let dtype = DType(userName: config.saveDtype)!
        let startStep = optimizer.step
        let T = config.blockSize, B = config.batchSize
        var progress = ProgressLine(total: config.totalSteps, unit: "step")
        var records: [StepRecord] = []
        let started = Date()
        var ids = [Int32](repeating: 0, count: B * T), targets = [Int32](repeating: 0, count: B * T)

        let G = config.gradAccumulation
        let myMicroBatches = Array(stride(from: group.rank, to: G, by: ranks))
        if myMicroBatches.count > 1, accumulated == nil { accumulated = FloatBuffer(count: model.layout.totalCount) }

        while optimizer.step < config.totalSteps {
            if let stopAfter, records.count >= stopAfter { break }
            let step = optimizer.step
            let stepBegan = Date()
            var lossSum = 0.0
            // Every step's blocks, whichever rank computes them (for the metrics and error messages).
            let blocks = (0..<(G * B)).map { order.block(at: step * G * B + $0) }
            var clmSum = 0.0, fusionSum = 0.0, fusedMicroBatches = 0
            for (i, micro) in myMicroBatches.enumerated() {
                model.zeroGradients()
                let microBlocks = Array(blocks[(micro * B)..<((micro + 1) * B)])
                fillBatch(microBlocks, ids: &ids, targets: &targets)
                let count = targets.reduce(0) { $0 + ($1 == CrossEntropy.ignore ? 0 : 1) }
                let accumulation = Float(config.gradAccumulation)
                if let soft = try softTargets(for: microBlocks[...]) {
                    let lambda = Float(config.fusionLambda)
                    let r = model.forwardBackward(ids: ids, batch: B, seqLen: T) { logits, rows, vocab in
                        targets.withUnsafeBufferPointer {
                            MixedCrossEntropy.lossAndGradient(
                                logits: logits, rows: rows, vocab: vocab, hardTargets: $0.baseAddress!,
                                hardWeight: lambda / (Float(count) * accumulation),
                                soft: soft, softWeight: (1 - lambda) / (Float(max(soft.nonEmptyRows, 1)) * accumulation))
                        }
                    }
                    lossSum += config.fusionLambda * r.hard.mean + (1 - config.fusionLambda) * r.soft.mean
                    clmSum += r.hard.mean
                    fusionSum += r.soft.mean
                    fusedMicroBatches += 1
                } else {
                    let result = model.forwardBackward(ids: ids, targets: targets, batch: B, seqLen: T,
                                                       gradScale: 1 / (Float(count) * accumulation))
                    lossSum += result.mean
                    clmSum += result.mean
                }
                if let accumulated {
                    if i == 0 { accumulated.copy(from: model.gradients!) } else { VectorMath.add(model.gradients!.pointer, into: accumulated.pointer, count: accumulated.count) }
                }
            }
            let gradients = accumulated ?? model.gradients!
            let reduceBefore = group.reduceSeconds
            if ranks > 1 {
                group.sumInPlace(gradients.pointer, count: gradients.count)
                let sums = group.sum([lossSum, clmSum, fusionSum, Double(fusedMicroBatches)])
                (lossSum, clmSum, fusionSum, fusedMicroBatches) = (sums[0], sums[1], sums[2], Int(sums[3]))
            }
            let reduceSeconds = group.reduceSeconds - reduceBefore
            let loss = lossSum / Double(G)
            let norm = GradientClipping.norm(gradients)  // finite exactly when every gradient is; the same on every rank
            guard loss.isFinite, norm.isFinite else {
                guard config.skipNonFinite else {
                    throw TrainingError("step \(step + 1): loss is \(loss) (non-finite loss or gradient) on blocks \(blocks); stopping without writing a checkpoint")
                }
                // Skipped: no update, the schedule and the data order move on as if the step had happened.
                optimizer.step += 1
                if writes {
                    FileHandle.standardError.write(Data("\nstep \(step + 1): loss is \(loss) on blocks \(blocks); skipped (no update)\n".utf8))
                }
                var entry: [String: Any] = ["step": step + 1, "skipped": true, "loss": loss.isFinite ? loss as Any : NSNull(),
                                            "reason": "non-finite loss or gradient", "blocks": blocks]
                entry.merge(try stepMetrics?(group) ?? [:]) { old, _ in old }
                try metrics?.append(entry)
                records.append(StepRecord(step: step + 1, loss: loss, lr: schedule.rate(at: step), gradNorm: .nan, blocks: blocks))
                try checkpointIfDue(step + 1, dtype: dtype)
                continue
            }
            let lr = schedule.rate(at: step)
            optimizer.update(parameters: model.parameters, gradients: gradients, layout: model.layout, lr: lr,
                             gradientScale: GradientClipping.scale(norm: norm, maxNorm: config.maxGradNorm))
            model.parametersChanged()
            let record = StepRecord(step: step + 1, loss: loss, lr: lr, gradNorm: norm, blocks: blocks)
            records.append(record)
            onStep?(record)

            let elapsed = Date().timeIntervalSince(started)
            let tokensPerSecond = Double(records.count * config.tokensPerStep) / max(elapsed, 1e-9)
            if record.step % config.logEvery == 0 || record.step == config.totalSteps {
                var entry: [String: Any] = ["step": record.step, "loss": loss, "lr": lr, "grad_norm": norm,
                                            "tokens": record.step * config.tokensPerStep, "tokens_per_s": tokensPerSecond,
                                            "elapsed_s": elapsed]
                if fusedMicroBatches > 0 {
                    entry["clm_loss"] = clmSum / Double(G)
                    entry["fusion_loss"] = fusionSum / Double(fusedMicroBatches)
                }
                if ranks > 1 {
                    entry["ranks"] = ranks
                    entry["step_s"] = Date().timeIntervalSince(stepBegan)
                    entry["allreduce_s"] = reduceSeconds
                }
                entry.merge(try stepMetrics?(group) ?? [:]) { old, _ in old }
                try metrics?.append(entry)
            }
            if !quiet, writes {
                progress.update(done: record.step, doneThisRun: record.step - startStep, rateValue: tokensPerSecond,
                                rateUnit: "tok/s", detail: String(format: "loss %.4f | lr %.2e | gnorm %.3f", loss, lr, norm)
                                    + (ranks > 1 ? " | \(ranks) ranks, \(G * B) blocks/step" : ""))
            }
            try checkpointIfDue(record.step, dtype: dtype)
        }
        if optimizer.step == config.totalSteps, writes {
            _ = try store.publish(name: "final") { dir in
                try model.save(to: dir, dtype: dtype)
                for (name, data) in companionFiles { try AtomicFile.write(data, to: dir.appendingPathComponent(name)) }
            }
        }
        return records
    }

    private func checkpointIfDue(_ step: Int, dtype: DType) throws {
        if group.isFirst, step % config.checkpointEvery == 0 || step == config.totalSteps {
            _ = try store.save(model: model, optimizer: optimizer, state: state, dtype: dtype, companionFiles: companionFiles)
            store.prune(keep: config.keepCheckpoints)
        }
    }

    /// The micro-batch's soft targets, rows of its blocks one after the other; nil when there is no fusion term.
    private func softTargets(for blocks: ArraySlice<Int>) throws -> SparseTargets? {
        guard config.fusionLambda < 1, let provider = softTargets else { return nil }
        var all = SparseTargets()
        var any = false
        for block in blocks {
            if let t = try provider(block) {
                guard t.rows == config.blockSize else {
                    throw TrainingError("soft targets of block \(block) have \(t.rows) rows, the block \(config.blockSize) tokens")
                }
                for r in 0..<t.rows {
                    let (_, probs) = t.row(r)
                    guard probs.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                        throw TrainingError("soft targets of block \(block) hold a non-finite or negative probability at position \(r)")
                    }
                }
                all.append(t)
                any = true
            } else {
                for _ in 0..<config.blockSize { all.appendEmptyRow() }
            }
        }
        return any ? all : nil
    }

    /// Every rank must train the same model on the same data from the same step: ranks that read different
    /// files, or a checkpoint directory not every node sees, would drift apart silently.
    private func checkRanksAgree(resumedStep: Int?) throws {
        guard group.size > 1 else { return }
        let print = fingerprint(data.tokens)
        var weights = 0.0, squares = 0.0
        for i in stride(from: 0, to: model.parameters.count, by: 97) {
            let w = Double(model.parameters[i])
            weights += w
            squares += w * w
        }
        let (low, high) = group.minMax([Double(resumedStep ?? -1), Double(data.count), Double(print >> 32), Double(print & 0xFFFF_FFFF),
                                        weights, squares])
        if low[0] != high[0] {
            throw TrainingError("\(group.label)ranks resumed from different steps (\(Int(low[0])) to \(Int(high[0])); -1 = none): \(output.path) must be one directory every rank sees")
        }
        if low[1...3] != high[1...3] { throw TrainingError("\(group.label)ranks read different training blocks: give every rank the same data") }
        if low[4...] != high[4...] { throw TrainingError("\(group.label)ranks start from different weights: give every rank the same model and --seed") }
    }

    /// Inputs are a block's tokens; targets are the next tokens, with the last position unscored
    /// (HF's shift of labels = input_ids).
    private func fillBatch(_ blocks: [Int], ids: inout [Int32], targets: inout [Int32]) {
        let T = config.blockSize
        for (b, index) in blocks.enumerated() {
            let block = data.block(index)
            var t = 0
            for token in block { ids[b * T + t] = token; t += 1 }
            for t in 0..<(T - 1) { targets[b * T + t] = ids[b * T + t + 1] }
            targets[b * T + T - 1] = CrossEntropy.ignore
        }
    }

    /// Mean loss and perplexity of the model over `blocks` (same target convention as training).
    /// Refuses blocks the model cannot read: token ids outside its vocabulary, or blocks longer than its positions.
    public static func checkCompatible(model: LlamaModel, blocks: TokenBlocks) throws {
        guard blocks.blockSize <= model.config.maxPositionEmbeddings else {
            throw TrainingError("block size \(blocks.blockSize) exceeds the model's max_position_embeddings \(model.config.maxPositionEmbeddings)")
        }
        if let window = model.config.slidingWindow, blocks.blockSize > window {
            throw TrainingError("block size \(blocks.blockSize) is longer than the model's sliding_window \(window): training attends to "
                                + "every earlier token, which is the model's attention only within the window; use --block-size ≤ \(window)")
        }
        let used = blocks.tokens.prefix(blocks.count * blocks.blockSize)
        if let bad = used.first(where: { $0 < 0 || Int($0) >= model.config.vocabSize }) {
            throw TrainingError("token id \(bad) is outside the model's vocabulary of \(model.config.vocabSize) (wrong tokenizer for this model?)")
        }
    }

    /// Mean next-token loss and perplexity over `blocks` (a progress line on stderr when `showProgress`). Ranks of a
    /// `group` split the blocks (block i goes to rank i mod N) and sum their losses.
    public static func evaluate(model: LlamaModel, blocks: TokenBlocks, batchSize: Int, showProgress: Bool = false,
                                group: ProcessGroup = SingleProcess()) throws -> (loss: Double, perplexity: Double, tokens: Int) {
        try checkCompatible(model: model, blocks: blocks)
        guard blocks.count > 0 else { throw TrainingError("no blocks to evaluate") }
        let T = blocks.blockSize
        let mine = Array(stride(from: group.rank, to: blocks.count, by: group.size))
        var sum = 0.0, count = 0
        var start = 0
        var progress = ProgressLine(total: mine.count, unit: "eval blocks")
        let began = Date()
        while start < mine.count {
            let B = min(batchSize, mine.count - start)
            var ids = [Int32](), targets = [Int32]()
            for b in 0..<B {
                let block = Array(blocks.block(mine[start + b]))
                ids += block
                targets += Array(block.dropFirst()) + [CrossEntropy.ignore]
            }
            let r = model.loss(ids: ids, targets: targets, batch: B, seqLen: T)
            sum += r.lossSum
            count += r.count
            start += B
            if showProgress, group.isFirst {
                let seconds = Date().timeIntervalSince(began)
                progress.update(done: start, doneThisRun: start, rateValue: Double(start * T) / seconds, rateUnit: "tok/s",
                                detail: String(format: "ppl %.3f", Foundation.exp(sum / Double(max(count, 1)))))
            }
        }
        if group.size > 1 {
            let totals = group.sum([sum, Double(count)])
            (sum, count) = (totals[0], Int(totals[1]))
        }
        let loss = sum / Double(count)
        guard loss.isFinite else { throw TrainingError("evaluation loss is not finite (\(loss)): the model weights hold NaN or inf") }
        return (loss, exp(loss), count)
    }
}
