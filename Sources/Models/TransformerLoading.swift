import FuseFormats
import FuseTensor
import Foundation

/// Loading any registered family from an HF checkpoint directory (config.json + safetensors) or a GGUF file.
/// Every tensor's shape is checked against the config and every value for NaN/infinity; whatever the family's
/// checkpoints store differently (transposed Conv1D, interleaved qkv, llama.cpp's permuted q/k, Gemma's 1 + w)
/// is undone here so that the buffer holds the canonical layout.
extension TransformerModel {
    public static func load(directory: URL) throws -> TransformerModel {
        let reader = try ConfigReader.load(directory.appendingPathComponent("config.json"))
        let type = try reader.string("model_type")
        let family = try ModelFamilies.family(modelType: type, source: reader.source)
        let config = try family.config(reader)
        let layout = family.layout(config)
        let tensors = try CheckpointTensors(directory: directory)
        // Every tensor is found and checked before anything is allocated: a config that lies about its sizes is an
        // error, not a huge allocation.
        var sources: [(TensorLayout.Entry, SafetensorsFile, String)] = []
        for e in layout.entries {
            guard let name = ([e.name] + e.aliases).first(where: { tensors.file(for: $0) != nil }),
                  let file = tensors.file(for: name), let info = file.tensors[name] else {
                throw FormatError(url: directory, item: "tensor \(e.name)", "missing from the checkpoint")
            }
            let expected = e.stored == .transposed ? Array(e.shape.reversed()) : e.shape
            guard info.shape == expected else {
                throw FormatError(url: file.url, item: "tensor \(name)", "shape \(info.shape) does not match config.json (expected \(expected))")
            }
            guard info.dtype.isFloatingPoint else {
                throw FormatError(url: file.url, item: "tensor \(name)", "dtype \(info.dtype) is not a floating-point type")
            }
            sources.append((e, file, name))
        }
        let model = TransformerModel(config: config, layout: layout)
        for (e, file, name) in sources {
            let p = model.parameters.pointer + e.offset
            try file.copyFloats(name, into: p, count: e.count)
            guard Reduce.allFinite(p, e.count) else { throw FormatError(url: file.url, item: "tensor \(name)", "contains NaN or infinity") }
            toCanonical(p, e)
        }
        model.parametersLoaded()
        return model
    }

    public static func load(gguf file: GGUFFile) throws -> TransformerModel {
        let g = try GGUFMetadataReader(file)
        let family = try ModelFamilies.family(ggufArchitecture: g.architecture, source: file.url)
        let config = try family.config(gguf: g)
        let layout = family.layout(config)
        // Names and shapes checked before anything is allocated (metadata that lies about sizes is an error).
        var infos: [GGUFTensorInfo] = []
        for e in layout.entries {
            guard let name = e.ggufName else {
                throw FormatError(url: file.url, item: "tensor \(e.name)", "has no GGUF name for \(config.family)")
            }
            let info = try file.tensor(name)
            guard info.shape == e.shape else {
                throw FormatError(url: file.url, item: "tensor \(name)",
                                  "dimensions \(info.dimensions) do not match the metadata (expected \(Array(e.shape.reversed())))")
            }
            infos.append(info)
        }
        let model = TransformerModel(config: config, layout: layout)
        for (e, info) in zip(layout.entries, infos) {
            let name = info.name
            let p = model.parameters.pointer + e.offset
            try file.dequantize(info, into: p)
            guard Reduce.allFinite(p, e.count) else { throw FormatError(url: file.url, item: "tensor \(name)", "contains NaN or infinity") }
            switch e.ggufFixup {
            case .none: break
            case .subtractOne: for i in 0..<e.count { p[i] -= 1 }
            case .unpermuteRotary(let heads):
                GGUFRotaryRows.unpermute(p, heads: heads, headDim: config.headDim, columns: config.hiddenSize)
            }
        }
        model.parametersLoaded()
        return model
    }

    /// Reorders a tensor read as stored into the canonical row-major [out, in] layout.
    static func toCanonical(_ p: UnsafeMutablePointer<Float>, _ e: TensorLayout.Entry) {
        switch e.stored {
        case .canonical: return
        case .transposed:
            let rows = e.shape[0], cols = e.shape.count > 1 ? e.shape[1] : 1
            let copy = Array(UnsafeBufferPointer(start: p, count: e.count))   // stored [cols, rows]
            for r in 0..<rows { for c in 0..<cols { p[r * cols + c] = copy[c * rows + r] } }
        case .interleavedQKV(let heads, let headDim):
            // Stored rows: head h, part j (q, k, v), dim t at (h·3 + j)·headDim + t; canonical: (j·heads + h)·headDim + t.
            let cols = e.shape.count > 1 ? e.shape[1] : 1
            let copy = Array(UnsafeBufferPointer(start: p, count: e.count))
            for h in 0..<heads {
                for j in 0..<3 {
                    for t in 0..<headDim {
                        let from = ((h * 3 + j) * headDim + t) * cols, to = ((j * heads + h) * headDim + t) * cols
                        for c in 0..<cols { p[to + c] = copy[from + c] }
                    }
                }
            }
        }
    }
}
