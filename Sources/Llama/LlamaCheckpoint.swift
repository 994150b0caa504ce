import FuseFormats
import FuseTensor
import Foundation

/// Loading and saving Llama models in the Hugging Face layout.
extension LlamaModel {
    /// Loads `config.json` and the safetensors weights (single file or sharded) of a directory.
    /// Every tensor's shape is checked against the config; F32, F16, BF16 and F64 convert to Float32.
    public static func load(directory: URL) throws -> LlamaModel {
        let config = try LlamaConfig.load(from: directory.appendingPathComponent("config.json"))
        let tensors = try CheckpointTensors(directory: directory)
        let model = LlamaModel(config: config)
        for e in model.layout.entries {
            guard let file = tensors.file(for: e.name), let info = file.tensors[e.name] else {
                throw FormatError(url: directory, item: "tensor \(e.name)", "missing from the checkpoint")
            }
            guard info.shape == e.shape else {
                throw FormatError(url: file.url, item: "tensor \(e.name)",
                                  "shape \(info.shape) does not match config.json (expected \(e.shape))")
            }
            guard info.dtype.isFloatingPoint else {
                throw FormatError(url: file.url, item: "tensor \(e.name)", "dtype \(info.dtype) is not a floating-point type")
            }
            try file.copyFloats(e.name, into: model.parameters.pointer + e.offset, count: e.count)
            guard Reduce.allFinite(model.parameters.pointer + e.offset, e.count) else {
                throw FormatError(url: file.url, item: "tensor \(e.name)", "contains NaN or infinity")
            }
        }
        return model
    }

    /// The parameters as safetensors entries with HF names (a tied LM head is not written, as in HF).
    public func tensorsToWrite(from buffer: FloatBuffer? = nil, prefix: String = "") -> [TensorToWrite] {
        let base = (buffer ?? parameters).pointer
        return layout.entries.map { TensorToWrite(name: prefix + $0.name, shape: $0.shape, source: base + $0.offset) }
    }

    /// Writes `config.json` and `model.safetensors` (or shards of at most `maxShardBytes`) in `dtype`.
    public func save(to directory: URL, dtype: DType = .F32, maxShardBytes: Int? = nil) throws {
        try CheckpointTensors.write(tensorsToWrite(), dtype: dtype, to: directory, maxShardBytes: maxShardBytes)
        try config.write(to: directory.appendingPathComponent("config.json"), dtype: dtype)
    }
}
