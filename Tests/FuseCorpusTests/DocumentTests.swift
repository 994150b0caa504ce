import FuseCorpus
import XCTest

final class DocumentTests: XCTestCase {
    func testDocumentKeepsProvenance() {
        let d = Document(text: "a", source: "f.jsonl", index: 3)
        XCTAssertEqual(d, Document(text: "a", source: "f.jsonl", index: 3))
    }
}
