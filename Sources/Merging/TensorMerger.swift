/// Merges one tensor. `inputs` holds one pointer per model of `MergeRecipe.inputs`, in that order, each to
/// `count` floats; the result goes to `output`, which must not alias an input.
public protocol TensorMerger {
    /// `shape` is the tensor's (row-major, as in the checkpoint; count = its product): DELLA ranks magnitudes and
    /// Model Stock's filter_wise takes its ratios per row (the last axis of a 2-D tensor; a 1-D tensor is one row).
    func merge(tensor name: String, shape: [Int], inputs: [UnsafePointer<Float>], count: Int, into output: UnsafeMutablePointer<Float>)
}

/// The length of a tensor's rows for the mergers that work per row: the last axis of a 2-D tensor; any other tensor
/// (a 1-D norm weight) is one row.
func rowLength(ofShape shape: [Int], count: Int) -> Int { shape.count == 2 ? shape[1] : count }

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
            return ModelStockMerger(base: position[baseModel!]!, models: taskModels.map { position[$0.model.path]! },
                                    filterWise: filterWise ?? false)
        default:
            let terms = taskModels.map { entry in
                TaskVectorMerger.Term(input: position[entry.model.path]!, weight: entry.model.weight!,
                                      density: entry.model.density ?? 1, streamIndex: entry.index,
                                      gamma: entry.model.gamma ?? 0.01, epsilon: entry.model.epsilon ?? 0.15)
            }
            return TaskVectorMerger(method: method, base: position[baseModel!]!, terms: terms, normalize: normalizes,
                                    lambda: lambda ?? 1, rescale: rescaling, seed: seed)
        }
    }
}
