/// Merges one tensor. `inputs` holds one pointer per model of `MergeRecipe.inputs`, in that order, each to
/// `count` floats; the result goes to `output`, which must not alias an input.
public protocol TensorMerger {
    func merge(tensor name: String, inputs: [UnsafePointer<Float>], count: Int, into output: UnsafeMutablePointer<Float>)
}

extension MergeRecipe {
    /// The per-tensor merge this recipe describes (validates first).
    public func tensorMerger() throws -> TensorMerger {
        try validate()
        let position = Dictionary(uniqueKeysWithValues: inputs.enumerated().map { ($1, $0) })
        switch method {
        case .linear:
            return LinearMerger(terms: models.map { (position[$0.path]!, $0.weight!) }, normalize: normalizes)
        case .slerp:
            return SlerpMerger(t: t!)  // inputs[0] is the base (or first) model: t = 0 gives it
        case .sce:
            return SCEMerger(base: position[baseModel!]!, models: taskModels.map { position[$0.model.path]! },
                             selectTopK: selectTopK ?? 1)
        case .modelStock:
            return ModelStockMerger(base: position[baseModel!]!, models: taskModels.map { position[$0.model.path]! })
        default:
            let terms = taskModels.map { entry in
                TaskVectorMerger.Term(input: position[entry.model.path]!, weight: entry.model.weight!,
                                      density: entry.model.density ?? 1, streamIndex: entry.index,
                                      gamma: entry.model.gamma ?? 0.01)
            }
            return TaskVectorMerger(method: method, base: position[baseModel!]!, terms: terms, normalize: normalizes,
                                    lambda: lambda ?? 1, rescale: rescaling, seed: seed)
        }
    }
}
