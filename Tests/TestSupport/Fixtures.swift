import Foundation

/// Paths of the fixtures committed under Tests/Fixtures (each directory says which script wrote it) and of the
/// real model scripts/fetch-models.sh puts in checkpoints/. Shared by every test target.
public enum Fixtures {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The package root (checkpoints/, data/).
    public static let packageRoot = root.deletingLastPathComponent().deletingLastPathComponent()

    /// scripts/make-fixtures.py (PyTorch + transformers).
    public static func llama(_ name: String) -> URL { root.appendingPathComponent("llama").appendingPathComponent(name) }
    /// scripts/make-gguf-fixtures.py (the Python `gguf` package).
    public static func gguf(_ name: String) -> URL { root.appendingPathComponent("gguf").appendingPathComponent(name) }
    /// scripts/make-tokenizer-fixtures.py.
    public static func tokenizers(_ name: String) -> URL { root.appendingPathComponent("tokenizers").appendingPathComponent(name) }
    /// scripts/make-corpus-fixtures.py.
    public static let corpus = root.appendingPathComponent("corpus")
    public static func corpus(_ relative: String) -> String { corpus.appendingPathComponent(relative).path }
    /// scripts/make-family-fixtures.py: a tiny random transformers model per source family.
    public static func family(_ name: String) -> URL { root.appendingPathComponent("families").appendingPathComponent(name) }
    /// The real models fetched by scripts/fetch-models.sh (not in git).
    public static let smolLM2 = packageRoot.appendingPathComponent("checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf")
    public static let gemma3 = packageRoot.appendingPathComponent("checkpoints/gemma-3-270m-q4_k_m.gguf")
}

/// max |a − b| / max |b|: the relative error measure the fixtures are held to.
public func relativeError(_ a: UnsafePointer<Float>, _ b: [Float]) -> Float {
    var diff: Float = 0, scale: Float = 0
    for i in 0..<b.count {
        diff = max(diff, abs(a[i] - b[i]))
        scale = max(scale, abs(b[i]))
    }
    return diff / max(scale, 1e-30)
}

/// A new empty directory under the system's temporary directory.
public func temporaryDirectory(_ label: String) -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("fusellm-test-\(label)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
