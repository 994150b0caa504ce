import Foundation

/// Where each weight a layer needs sits in the model's one flat buffer (element offsets; nil = the family has none).
/// Fused tensors (Phi-3's qkv_proj, gate_up_proj) are one entry whose parts are offsets inside it: row blocks of a
/// row-major [out, in] matrix are matrices themselves, so nothing is copied.
public struct LayerSlots: Sendable {
    public var attnNorm: Int?, attnNormBias: Int?
    public var q: Int?, k: Int?, v: Int?, qBias: Int?, kBias: Int?, vBias: Int?
    public var o: Int?, oBias: Int?
    public var qNorm: Int?, kNorm: Int?
    public var postAttnNorm: Int?
    public var ffnNorm: Int?, ffnNormBias: Int?
    public var postFFNNorm: Int?
    public var gate: Int?, up: Int?, down: Int?, upBias: Int?, downBias: Int?
    public var router: Int?
    public var experts: [ExpertSlots] = []

    public struct ExpertSlots: Sendable {
        public var gate: Int, up: Int, down: Int
    }

    public init() {}
}

public struct GlobalSlots: Sendable {
    public var embedding = 0
    public var positions: Int?
    public var finalNorm = 0
    public var finalNormBias: Int?
    public var lmHead = 0
}

/// How a stored tensor differs from the canonical row-major [out, in] layout the kernels use.
public enum StoredLayout: Equatable, Sendable {
    case canonical
    /// GPT-2's Conv1D keeps weights as [in, out].
    case transposed
    /// GPT-NeoX's fused query_key_value interleaves q, k, v per head; canonical is all q rows, then k, then v.
    case interleavedQKV(heads: Int, headDim: Int)
}

/// Fix-ups a GGUF tensor needs on load (what llama.cpp's converter did to it).
public enum GGUFFixup: Equatable, Sendable {
    case none
    /// llama.cpp's llama converter interleaves the rotary halves of each Q/K head.
    case unpermuteRotary(heads: Int)
    /// llama.cpp stores Gemma's norm weights as 1 + w.
    case subtractOne
}

/// The parameters of a model: one flat Float32 buffer, each tensor under its HF name (the one representation
/// checkpoints, tests and messages see), plus the slots the forward pass reads.
public struct TensorLayout: Sendable {
    public struct Entry: Sendable {
        public let name: String
        /// Other names the same tensor has in checkpoints (e.g. GPT-2 without the `transformer.` prefix).
        public let aliases: [String]
        public let shape: [Int]
        public let offset: Int
        public let stored: StoredLayout
        public let ggufName: String?
        public let ggufFixup: GGUFFixup
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var entries: [Entry] = []
    public private(set) var totalCount = 0
    public var global = GlobalSlots()
    public var layers: [LayerSlots]

    public init(layers: Int) {
        self.layers = Array(repeating: LayerSlots(), count: layers)
    }

    /// Adds a tensor and returns its offset.
    @discardableResult
    public mutating func add(_ name: String, _ shape: [Int], aliases: [String] = [], stored: StoredLayout = .canonical,
                             gguf: String? = nil, fixup: GGUFFixup = .none) -> Int {
        let e = Entry(name: name, aliases: aliases, shape: shape, offset: totalCount, stored: stored, ggufName: gguf,
                      ggufFixup: fixup)
        entries.append(e)
        totalCount += e.count
        return e.offset
    }

    /// Adds a tensor of layer `layer` bound to one slot.
    public mutating func add(_ layer: Int, _ slot: WritableKeyPath<LayerSlots, Int?>, _ name: String, _ shape: [Int],
                             aliases: [String] = [], stored: StoredLayout = .canonical, gguf: String? = nil,
                             fixup: GGUFFixup = .none) {
        layers[layer][keyPath: slot] = add(name, shape, aliases: aliases, stored: stored, gguf: gguf, fixup: fixup)
    }

    /// Adds a fused tensor whose row blocks feed several slots: `parts` are (slot, rows) in storage order.
    public mutating func addFused(_ layer: Int, _ parts: [(WritableKeyPath<LayerSlots, Int?>, Int)], _ name: String,
                                  columns: Int, aliases: [String] = [], stored: StoredLayout = .canonical,
                                  gguf: String? = nil) {
        let rows = parts.reduce(0) { $0 + $1.1 }
        var offset = add(name, columns == 1 ? [rows] : [rows, columns], aliases: aliases, stored: stored, gguf: gguf)
        for (slot, r) in parts {
            layers[layer][keyPath: slot] = offset
            offset += r * columns
        }
    }

    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }
}
