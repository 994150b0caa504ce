import Foundation
import Yams

/// Yams.load, minus the ways it can take the process down: Yams force-unwraps a mapping key that is not a plain
/// scalar (`? [a]: b`, `{x: y}: z`), and alias chains can expand a few lines into billions of nodes. The text is
/// composed first and checked; only then constructed.
public enum SafeYAML {
    /// Nodes a document may expand to (aliases included) before it is refused.
    public static let nodeLimit = 1_000_000

    /// The loaded value (nil for an empty document); a FormatError naming `source` for anything else.
    public static func load(_ text: String, source: String) throws -> Any? {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw FormatError(file: source, "not valid YAML (\(error))") }
        guard let root else { return nil }
        var visited = 0
        try check(root, source: source, visited: &visited)
        do { return try Yams.load(yaml: text) } catch { throw FormatError(file: source, "not valid YAML (\(error))") }
    }

    private static func check(_ node: Node, source: String, visited: inout Int) throws {
        visited += 1
        guard visited <= nodeLimit else {
            throw FormatError(file: source, "expands to more than \(nodeLimit) YAML nodes (aliases?); refused")
        }
        switch node {
        case .scalar: return
        case .sequence(let sequence):
            for item in sequence { try check(item, source: source, visited: &visited) }
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard key.scalar != nil else {
                    throw FormatError(file: source, item: "line \(key.mark?.line ?? 0)", "a mapping key must be a plain value, not a list or mapping")
                }
                try check(value, source: source, visited: &visited)
            }
        }
    }
}
