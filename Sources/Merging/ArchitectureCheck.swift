import FuseFormats
import Foundation
import Llama

/// Models merge tensor by tensor, so every model must have the reference's tensors with the same shapes.
/// Other config.json fields that differ (rope_theta, rms_norm_eps, …) are reported as notes: the output
/// takes the reference's.
enum ArchitectureCheck {
    /// The layout of an HF directory from its config.json alone, so a mismatch is found before any
    /// weights are read; nil for other inputs (GGUF), which are checked once loaded.
    static func layout(ofDirectory path: String) throws -> (LlamaConfig, ParameterLayout)? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        let config = try LlamaConfig.load(from: URL(fileURLWithPath: path).appendingPathComponent("config.json"))
        return (config, ParameterLayout(config: config))
    }

    static func requireSameTensors(_ layout: ParameterLayout, of model: String,
                                   as reference: ParameterLayout, of referenceModel: String) throws {
        for e in reference.entries {
            guard let other = layout.entry(named: e.name) else {
                throw FormatError(file: model, item: "tensor \(e.name)", "missing, but \(referenceModel) has it (shape \(e.shape)): the models do not have the same architecture")
            }
            guard other.shape == e.shape else {
                throw FormatError(file: model, item: "tensor \(e.name)", "shape \(other.shape) differs from \(e.shape) in \(referenceModel): the models do not have the same architecture")
            }
        }
        for e in layout.entries where reference.entry(named: e.name) == nil {
            throw FormatError(file: model, item: "tensor \(e.name)", "not in \(referenceModel): the models do not have the same architecture")
        }
    }

    static func differences(_ config: LlamaConfig, of model: String, from reference: LlamaConfig, of referenceModel: String) -> [String] {
        var notes: [String] = []
        func note<T: Equatable>(_ field: String, _ a: T, _ b: T) {
            if a != b { notes.append("\(model): \(field) \(a) differs from \(referenceModel)'s \(b); the output takes \(b)") }
        }
        note("rope_theta", config.ropeTheta, reference.ropeTheta)
        note("rms_norm_eps", config.rmsNormEps, reference.rmsNormEps)
        note("max_position_embeddings", config.maxPositionEmbeddings, reference.maxPositionEmbeddings)
        return notes
    }
}
