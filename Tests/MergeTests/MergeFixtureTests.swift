import FuseFormats
import Foundation
import Merging
import XCTest
import TestSupport

/// Every method against the independent reference: the fixture's recipes go through the same YAML parser
/// as `fusellm merge`, with model names ("base", "a", …) standing for paths.
final class MergeFixtureTests: XCTestCase {
    func testEveryMethodMatchesTheReference() throws {
        let fixture = try MergeFixtures.cases()
        let cases = fixture["cases"] as! [String: Any]
        let shapes = fixture["tensors"] as! [String: [Int]]
        let inputs = try MergeFixtures.inputs(), expected = try MergeFixtures.expected()
        var covered = Set<MergeMethod>()
        var worst = 0.0
        for (caseName, value) in cases.sorted(by: { $0.key < $1.key }) {
            let recipeJSON = (value as! [String: Any])["recipe"]!
            let text = String(decoding: try JSONSerialization.data(withJSONObject: recipeJSON), as: UTF8.self)
            let recipe = try MergeRecipe.parse(yaml: text, source: caseName)
            covered.insert(recipe.method)
            let merger = try recipe.tensorMerger()
            for (name, shape) in shapes {
                let count = shape.reduce(1, *)
                let tensors = try recipe.inputs.map { try inputs.floats("\($0)/\(name)") }
                var out = [Float](repeating: .nan, count: count)
                withPointers(tensors) { pointers in
                    out.withUnsafeMutableBufferPointer { merger.merge(tensor: name, shape: shape, inputs: pointers, count: count, into: $0.baseAddress!) }
                }
                let error = relativeError(out, try expected.floats("\(caseName)/\(name)"))
                worst = max(worst, error)
                XCTAssertLessThan(error, 1e-6, "\(caseName) \(name)")
            }
        }
        XCTAssertEqual(covered, Set(MergeMethod.allCases))
        print("merge fixtures: \(cases.count) cases, max relative error \(worst)")
    }

    /// The DARE streams are the ones the Python side reimplements.
    func testDropStreamMatchesTheFixture() throws {
        let draws = try MergeFixtures.cases()["drop_stream"] as! [String: Any]
        let tensor = draws["tensor"] as! String, index = draws["model_index"] as! Int
        XCTAssertEqual(String(DropStream.fnv1a64("\(index):\(tensor)")), draws["fnv1a64"] as? String)
        var rng = DropStream.generator(seed: UInt64(draws["seed"] as! Int), modelIndex: index, tensor: tensor)
        for draw in draws["first_draws"] as! [String] { XCTAssertEqual(String(rng.next()), draw) }
    }

    private func withPointers(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) -> Void) {
        // Copies into stable storage: the pointers of Array.withUnsafeBufferPointer do not outlive the closure.
        let buffers = arrays.map { a -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(a.count, 1))
            p.initialize(from: a, count: a.count)
            return p
        }
        defer { buffers.forEach { $0.deallocate() } }
        body(buffers.map { UnsafePointer($0) })
    }
}
