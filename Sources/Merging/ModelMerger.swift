import Models
import FuseFormats
import FuseTensor
import Foundation
import Llama

/// What a merge did, for the one-line summary.
public struct MergeSummary: Sendable {
    public let output: String
    public let method: MergeMethod
    public let inputs: [String]
    public let parameters: Int
    public let dtype: DType
    /// The model whose config.json and tokenizer the output carries.
    public let reference: String
    public let tokenizerFiles: [String]
    public let seconds: Double
    /// Things the user may want to know (differing config fields or tokenizers, a missing tokenizer).
    public let notes: [String]
}

/// Loads the recipe's models, merges them tensor by tensor and writes an HF checkpoint.
/// Memory: the input models plus one tensor of scratch (task-vector methods: one per merged model), the
/// result overwriting the reference model's buffer tensor by tensor once that tensor is merged.
public enum ModelMerger {
    public static func run(_ recipe: MergeRecipe, output: URL, maxShardBytes: Int? = nil,
                           recipeText: String? = nil) throws -> MergeSummary {
        let start = Date()
        let merger = try recipe.tensorMerger()
        let paths = recipe.inputs
        let out = output.standardizedFileURL
        guard !FileManager.default.fileExists(atPath: out.path) else {
            throw FormatError(url: out, "already exists; remove it or choose another output directory")
        }
        // Shapes from config.json first, so a mismatch is reported before gigabytes are read.
        let reference = paths[0]
        let layouts = try paths.map { try ArchitectureCheck.layout(ofDirectory: $0) }  // nil: not a directory
        if let refLayout = layouts[0]?.1 {
            for (path, layout) in zip(paths, layouts).dropFirst() {
                guard let layout = layout?.1 else { continue }
                try ArchitectureCheck.requireSameTensors(layout, of: path, as: refLayout, of: reference)
            }
        }

        let (models, tokenizerFiles) = try load(paths, referenceIsDirectory: layouts[0] != nil)
        var notes: [String] = []
        for (path, model) in zip(paths, models).dropFirst() {
            notes += ArchitectureCheck.differences(model.config, of: path, from: models[0].config, of: reference)
        }
        if layouts[0] != nil { notes += tokenizerNotes(paths: paths, reference: tokenizerFiles["tokenizer.json"]) }
        if tokenizerFiles.isEmpty { notes.append("\(reference) has no tokenizer files: the output has weights and config.json only") }

        try mergeTensors(models, merger: merger)
        try MergedCheckpoint.write(models[0], dtype: recipe.dtype, maxShardBytes: maxShardBytes, tokenizerFiles: tokenizerFiles,
                                   recipeText: recipeText, to: out)
        return MergeSummary(output: out.path, method: recipe.method, inputs: paths, parameters: models[0].layout.totalCount,
                            dtype: recipe.dtype, reference: reference, tokenizerFiles: tokenizerFiles.keys.sorted(),
                            seconds: Date().timeIntervalSince(start), notes: notes)
    }

    /// Loads the models (checking each against the first) and the tokenizer files of the first.
    static func load(_ paths: [String], referenceIsDirectory: Bool) throws -> ([LlamaModel], [String: Data]) {
        var models: [LlamaModel] = []
        var tokenizerFiles: [String: Data] = [:]
        if referenceIsDirectory {
            tokenizerFiles = try MergedCheckpoint.tokenizerFiles(ofDirectory: URL(fileURLWithPath: paths[0]))
            models.append(try LlamaModel.load(path: paths[0]))
        } else {
            // A GGUF carries its tokenizer in metadata: tokenizer.json is rebuilt from it.
            let pretrained = try Pretrained<LlamaModel>.load(path: paths[0])
            tokenizerFiles = try pretrained.tokenizerFiles()
            models.append(pretrained.model)
        }
        for path in paths.dropFirst() {
            let model = try LlamaModel.load(path: path)
            try ArchitectureCheck.requireSameTensors(model.layout, of: path, as: models[0].layout, of: paths[0])
            models.append(model)
        }
        return (models, tokenizerFiles)
    }

    /// Merges every tensor into the first model's buffer (read by every later tensor only at its own offsets).
    static func mergeTensors(_ models: [LlamaModel], merger: TensorMerger) throws {
        let layout = models[0].layout
        let scratch = FloatBuffer(count: layout.entries.map(\.count).max() ?? 0, zeroed: false)
        for e in layout.entries {
            let inputs = models.map { UnsafePointer($0.parameters.pointer + e.offset) }
            merger.merge(tensor: e.name, shape: e.shape, inputs: inputs, count: e.count, into: scratch.pointer)
            guard Reduce.allFinite(scratch.pointer, e.count) else {
                throw FormatError(file: "merge", item: "tensor \(e.name)", "the merged values are not finite")
            }
            (models[0].parameters.pointer + e.offset).update(from: scratch.pointer, count: e.count)
        }
    }

    /// Models merged across different tokenizers give nonsense; a differing tokenizer.json is worth a note.
    static func tokenizerNotes(paths: [String], reference: Data?) -> [String] {
        guard let reference else { return [] }
        return paths.dropFirst().compactMap { path in
            let url = URL(fileURLWithPath: path).appendingPathComponent("tokenizer.json")
            guard let data = try? Data(contentsOf: url), data != reference else { return nil }
            return "\(path): tokenizer.json differs from \(paths[0])'s; the output carries \(paths[0])'s"
        }
    }
}
