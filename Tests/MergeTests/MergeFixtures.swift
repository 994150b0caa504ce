import FuseFormats
import Foundation
import TestSupport

/// Tests/Fixtures/merge, written by scripts/make-merge-fixtures.py (numpy reference, cross-checked with mergekit).
enum MergeFixtures {
    static let root = Fixtures.root.appendingPathComponent("merge")

    static func cases() throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("cases.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func inputs() throws -> SafetensorsFile { try SafetensorsFile(url: root.appendingPathComponent("inputs.safetensors")) }
    static func expected() throws -> SafetensorsFile { try SafetensorsFile(url: root.appendingPathComponent("expected.safetensors")) }
}

/// max |a − b| / max |b|.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var diff = 0.0, scale = 0.0
    for i in b.indices {
        diff = max(diff, Double(abs(a[i] - b[i])))
        scale = max(scale, Double(abs(b[i])))
    }
    return diff / max(scale, 1e-30)
}
