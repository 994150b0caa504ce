import Foundation
import TestSupport

/// Tests/Fixtures/corpus/expected.json: the exact texts each fixture file must give.
struct ExpectedCorpus: Decodable {
    struct File: Decodable {
        let rows: [[Int]]
        let nulls: Int
        let skipped: [Int]?
        let field: String?
        let first_error_line: Int?
        let row_count: Int?
    }
    let catalog: [String]
    let files: [String: File]
    let bad: [String: String]

    static let shared: ExpectedCorpus = {
        let url = Fixtures.corpus.appendingPathComponent("expected.json")
        return try! JSONDecoder().decode(ExpectedCorpus.self, from: Data(contentsOf: url))
    }()

    /// (index, text) pairs a file must give, in order.
    func documents(_ name: String) -> [(Int, String)] {
        files[name]!.rows.map { ($0[0], catalog[$0[1]]) }
    }
}
