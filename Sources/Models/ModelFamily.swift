import FuseFormats
import Foundation

/// A family of source models: its names in HF configs and GGUF files, how its config becomes a
/// `TransformerConfig`, and where its tensors go (`TensorLayout`). Adding a family is one file conforming to this
/// and a line in `ModelFamilies.all`.
public protocol ModelFamily {
    /// HF `model_type` values.
    static var modelTypes: [String] { get }
    /// GGUF `general.architecture` values (empty: llama.cpp does not write this family, or it is not supported yet).
    static var ggufArchitectures: [String] { get }
    static func config(_ r: ConfigReader) throws -> TransformerConfig
    static func config(gguf: GGUFMetadataReader) throws -> TransformerConfig
    static func layout(_ c: TransformerConfig) -> TensorLayout
}

extension ModelFamily {
    public static var ggufArchitectures: [String] { [] }
    public static func config(gguf g: GGUFMetadataReader) throws -> TransformerConfig {
        throw FormatError(url: g.file.url, item: "general.architecture", "GGUF files of \(modelTypes[0]) are not supported")
    }
}

/// The registry, keyed by HF `model_type` and GGUF `general.architecture`.
public enum ModelFamilies {
    public static let all: [any ModelFamily.Type] = [
        LlamaFamily.self, MistralFamily.self, MixtralFamily.self, Qwen2Family.self, Qwen3Family.self,
        Gemma2Family.self, Gemma3Family.self, Phi3Family.self, GPTNeoXFamily.self, GPT2Family.self,
    ]

    public static var modelTypes: [String] { all.flatMap { $0.modelTypes } }
    public static var ggufArchitectures: [String] { all.flatMap { $0.ggufArchitectures } }

    public static func family(modelType: String, source: String) throws -> any ModelFamily.Type {
        guard let f = all.first(where: { $0.modelTypes.contains(modelType) }) else {
            throw FormatError(file: source, item: "model_type",
                              "\(modelType) is not a supported architecture (supported: \(modelTypes.joined(separator: ", ")))")
        }
        return f
    }

    public static func family(ggufArchitecture arch: String, source: URL) throws -> any ModelFamily.Type {
        guard let f = all.first(where: { $0.ggufArchitectures.contains(arch) }) else {
            throw FormatError(url: source, item: "general.architecture",
                              "\(arch) is not a supported GGUF architecture (supported: \(ggufArchitectures.joined(separator: ", ")))")
        }
        return f
    }
}
