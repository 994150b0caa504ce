import Foundation

/// Fixtures committed under Tests/Fixtures, written by scripts/make-fixtures.py (PyTorch + transformers).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func llama(_ name: String) -> URL { root.appendingPathComponent("llama").appendingPathComponent(name) }
}

/// max |a − b| / max |b|: the relative error measure the fixtures are held to.
func relativeError(_ a: UnsafePointer<Float>, _ b: [Float]) -> Float {
    var diff: Float = 0, scale: Float = 0
    for i in 0..<b.count {
        diff = max(diff, abs(a[i] - b[i]))
        scale = max(scale, abs(b[i]))
    }
    return diff / max(scale, 1e-30)
}

func temporaryDirectory(_ label: String) -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("fusellm-test-\(label)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

extension Fixtures {
    /// Tests/Fixtures/tokenizers, written by scripts/make-tokenizer-fixtures.py.
    static func tokenizers(_ name: String) -> URL {
        root.appendingPathComponent("tokenizers").appendingPathComponent(name)
    }
}
