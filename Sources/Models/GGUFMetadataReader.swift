import FuseFormats
import Foundation

/// Typed reads of `<architecture>.<key>` GGUF metadata, each failure naming the file and the key.
public struct GGUFMetadataReader {
    public let file: GGUFFile
    public let architecture: String

    public init(_ file: GGUFFile) throws {
        self.file = file
        architecture = try file.string("general.architecture")
    }

    public func key(_ name: String) -> String { "\(architecture).\(name)" }
    /// A count or size in 0...2²⁴ (see `ConfigReader.int`).
    public func int(_ name: String) throws -> Int {
        let n = try file.int(key(name))
        guard (0...TransformerConfig.maxDimension).contains(n) else {
            throw error(name, "\(n) is not a plausible size (0...\(TransformerConfig.maxDimension))")
        }
        return n
    }
    public func layerCount(_ name: String) throws -> Int {
        let n = try int(name)
        guard (1...TransformerConfig.maxLayers).contains(n) else {
            throw error(name, "\(n) layers is not a plausible model (1...\(TransformerConfig.maxLayers))")
        }
        return n
    }
    public func optionalInt(_ name: String) -> Int? {
        file.metadata[key(name)]?.intValue.map { min(max($0, -1), TransformerConfig.maxDimension + 1) }  // out of range → refused by validate
    }
    public func double(_ name: String) throws -> Double { try file.double(key(name)) }
    public func optionalDouble(_ name: String) -> Double? { file.metadata[key(name)]?.doubleValue }
    public func error(_ name: String, _ why: String) -> FormatError { FormatError(url: file.url, item: key(name), why) }

    public var vocabSize: Int {
        get throws {
            if let v = optionalInt("vocab_size") { return v }
            if let tokens = file.metadata["tokenizer.ggml.tokens"]?.arrayValue { return tokens.count }
            return try file.tensor("token_embd.weight").dimensions.last ?? 0
        }
    }
    public var hasOutputTensor: Bool { file.tensors.contains { $0.name == "output.weight" } }
    public var bosTokenID: Int? { file.metadata["tokenizer.ggml.bos_token_id"]?.intValue }
    public var eosTokenID: Int? { file.metadata["tokenizer.ggml.eos_token_id"]?.intValue }

    /// Refuses RoPE scaling this reader does not turn into frequencies.
    public func refuseRopeScaling() throws {
        if let scaling = file.metadata[key("rope.scaling.type")]?.stringValue, scaling != "none" {
            throw error("rope.scaling.type", "RoPE scaling \(scaling) in a GGUF is not supported")
        }
    }
}
