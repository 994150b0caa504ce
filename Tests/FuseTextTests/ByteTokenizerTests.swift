import FuseText
import XCTest

final class ByteTokenizerTests: XCTestCase {
    func testRoundTripsUTF8() {
        let t = ByteTokenizer()
        let text = "naïve — 漢字 🙂"
        XCTAssertEqual(t.decode(t.encode(text)), text)
        XCTAssertEqual(t.tokenString(10), "<0x0A>")
        XCTAssertNil(t.tokenString(256))
    }
}
