import ArgumentParser
import FuseFormats
import Foundation
import Merging

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge same-architecture checkpoints from a YAML recipe (linear, slerp, task_arithmetic, ties, dare_ties, dare_linear) into an HF checkpoint.",
        discussion: "The recipe format, the formulas and how they differ from mergekit: docs/merging.md.")

    @Argument(help: "The merge recipe (YAML).") var recipe: String
    @Option(help: "New directory to write (must not exist).") var output: String
    @Option(help: "dtype of written weights, overriding the recipe's: f32, f16, bf16.") var dtype: String?
    @Option(help: "Largest safetensors shard, e.g. 500MB or 2GB (default: one file).") var maxShardSize: String?
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        do {
            try merge()
        } catch {
            throw CleanExit(error)
        }
    }

    private func merge() throws {
        compute.apply()
        var parsed = try MergeRecipe.load(path: recipe)
        if let dtype {
            guard let value = DType(userName: dtype) else { throw ValidationError("--dtype must be f32, f16 or bf16") }
            parsed.dtype = value
        }
        let shardBytes = try maxShardSize.map(parseByteSize)
        let text = try? String(contentsOfFile: recipe, encoding: .utf8)
        let summary = try ModelMerger.run(parsed, output: URL(fileURLWithPath: output), maxShardBytes: shardBytes, recipeText: text)
        for note in summary.notes {
            FileHandle.standardError.write(Data("note: \(note)\n".utf8))
        }
        let json = try JSONSerialization.data(withJSONObject: [
            "output": summary.output, "method": summary.method.rawValue, "models": summary.inputs,
            "config_and_tokenizer_from": summary.reference, "parameters": summary.parameters,
            "dtype": summary.dtype.rawValue, "seconds": (summary.seconds * 100).rounded() / 100,
        ] as [String: Any], options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: json, as: UTF8.self))
    }
}
