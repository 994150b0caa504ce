import FuseFormats
import FuseTensor
import Foundation
import Llama

/// What a training checkpoint records besides the weights and optimizer moments.
public struct TrainerState: Codable, Equatable {
    public var step: Int
    public var config: TrainConfig
    public var blockCount: Int
    /// FNV-1a of the training tokens, so a resume on different data is refused.
    public var dataFingerprint: UInt64
}

/// Training checkpoints: `checkpoint-NNNNNN/` directories in the HF layout (config.json,
/// model.safetensors) plus optimizer.safetensors and trainer_state.json. Each is built under a
/// hidden temporary name and renamed into place when complete, so a crash never leaves a
/// half-written checkpoint that `--resume` could pick up.
public struct CheckpointStore {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    public static func name(step: Int) -> String { String(format: "checkpoint-%06d", step) }

    /// Complete checkpoints, oldest first.
    public func checkpoints() -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path) else { return nil }
            return (step, url)
        }.sorted { $0.0 < $1.0 }.map { (step: $0.0, url: $0.1) }
    }

    /// Removes temporary directories left by a run that was killed mid-write.
    public func removeStalePartials() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where AtomicFile.isLeftover(name) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// Builds a directory with `fill`, then moves it to `name` (replacing an older one of that name).
    public func publish(name: String, _ fill: (URL) throws -> Void) throws -> URL {
        let final = directory.appendingPathComponent(name)
        try AtomicFile.publishDirectory(final, what: "checkpoint directory", fill)
        return final
    }

    public func save(model: LlamaModel, optimizer: AdamW, state: TrainerState, dtype: DType,
                     companionFiles: [String: Data] = [:]) throws -> URL {
        try publish(name: Self.name(step: state.step)) { dir in
            try model.save(to: dir, dtype: dtype)
            for (name, data) in companionFiles { try AtomicFile.write(data, to: dir.appendingPathComponent(name)) }
            var tensors = model.tensorsToWrite(from: optimizer.exp_avg, prefix: "exp_avg.")
            tensors += model.tensorsToWrite(from: optimizer.exp_avg_sq, prefix: "exp_avg_sq.")
            try SafetensorsWriter.write(tensors, dtype: .F32, metadata: ["format": "pt", "step": "\(optimizer.step)"],
                                        to: dir.appendingPathComponent("optimizer.safetensors"))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(state), to: dir.appendingPathComponent("trainer_state.json"))
        }
    }

    /// Keeps the newest `keep` checkpoints.
    public func prune(keep: Int) {
        let all = checkpoints()
        // Renamed away before deletion: a kill mid-delete must not leave a visible checkpoint without its weights.
        for c in all.dropLast(max(keep, 1)) { AtomicFile.removeDirectory(c.url) }
    }

    /// Loads a checkpoint's weights into `model` and moments into `optimizer`; returns its state.
    public static func load(_ url: URL, into model: LlamaModel, optimizer: AdamW) throws -> TrainerState {
        let stateURL = url.appendingPathComponent("trainer_state.json")
        let state: TrainerState
        do {
            state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: stateURL))
        } catch {
            throw FormatError(url: stateURL, "unreadable trainer state (\(error.localizedDescription))")
        }
        let saved = try LlamaModel.load(directory: url)
        guard saved.config == model.config else {
            throw FormatError(url: url.appendingPathComponent("config.json"), "model config differs from the run's")
        }
        model.parameters.copy(from: saved.parameters)
        model.parametersChanged()
        let optURL = url.appendingPathComponent("optimizer.safetensors")
        let opt = try SafetensorsFile(url: optURL)
        for e in model.layout.entries {
            try opt.copyFloats("exp_avg." + e.name, into: optimizer.exp_avg.pointer + e.offset, count: e.count)
            try opt.copyFloats("exp_avg_sq." + e.name, into: optimizer.exp_avg_sq.pointer + e.offset, count: e.count)
        }
        guard let stepText = opt.metadata["step"], let step = Int(stepText) else {
            throw FormatError(url: optURL, item: "__metadata__.step", "missing")
        }
        optimizer.step = step
        return state
    }
}

/// 64-bit FNV-1a over token ids.
public func fingerprint(_ tokens: [Int32]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for t in tokens {
        var v = UInt32(bitPattern: t)
        for _ in 0..<4 { h = (h ^ UInt64(v & 0xFF)) &* 0x100_0000_01b3; v >>= 8 }
    }
    return h
}
