import FuseText
import Foundation
import XCTest
import TestSupport

/// The documents of Tests/Fixtures/tokenizers/corpus.jsonl and what a Python library gave for them
/// (expected-<name>.json + .u16, written by scripts/make-tokenizer-fixtures.py).
struct TokenizerFixture {
    let name: String
    let documents: [String]
    let ids: [[Int32]]
    /// Expected decoded text per document: the document itself, a variant of it, or only a hash.
    let decoded: [DecodedExpectation]

    enum DecodedExpectation {
        case text(String)
        case hash(fnv1a64: String, scalars: Int)
    }

    nonisolated(unsafe) private static var corpusCache: [String]?
    private static let lock = NSLock()

    static func corpus() throws -> [String] {
        lock.lock()
        defer { lock.unlock() }
        if let c = corpusCache { return c }
        let text = try String(contentsOf: Fixtures.tokenizers("corpus.jsonl"), encoding: .utf8)
        var docs: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            docs.append(try JSONDecoder().decode(String.self, from: Data(line.utf8)))
        }
        corpusCache = docs
        return docs
    }

    static func load(_ name: String) throws -> TokenizerFixture {
        let metaData = try Data(contentsOf: Fixtures.tokenizers("expected-\(name).json"))
        guard let meta = try JSONSerialization.jsonObject(with: metaData) as? [String: Any],
              let counts = meta["counts"] as? [Int] else {
            throw NSError(domain: "fixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "bad expected-\(name).json"])
        }
        var docs = try corpus()
        if let subset = meta["document_indices"] as? [Int] { docs = subset.map { docs[$0] } }
        precondition(counts.count == docs.count, "expected-\(name).json does not match corpus.jsonl")
        var flat: [Int32] = []
        if let file = meta["ids_file"] as? String {
            let blob = try Data(contentsOf: Fixtures.tokenizers(file))
            flat = blob.withUnsafeBytes { raw in
                (0..<(blob.count / 2)).map { Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
            }
        }
        var ids: [[Int32]] = []
        if let base = meta["base"] as? String {
            let baseIDs = try load(base).ids
            let own = Set(meta["own_ids"] as? [Int] ?? [])
            var offset = 0
            for (i, n) in counts.enumerated() {
                if own.contains(i) {
                    ids.append(Array(flat[offset..<(offset + n)]))
                    offset += n
                } else {
                    ids.append(baseIDs[i])
                }
            }
        } else {
            var offset = 0
            for n in counts {
                ids.append(Array(flat[offset..<(offset + n)]))
                offset += n
            }
        }
        let decodedMeta = meta["decoded"] as? [String: [String: Any]] ?? [:]
        var decoded: [DecodedExpectation] = docs.map { .text($0) }
        for (key, entry) in decodedMeta {
            guard let i = Int(key) else { continue }
            if let p = entry["p"] as? Int, let s = entry["s"] as? Int, let m = entry["m"] as? String {
                let scalars = Array(docs[i].unicodeScalars)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[0..<p])
                view.append(contentsOf: m.unicodeScalars)
                view.append(contentsOf: scalars[(scalars.count - s)...])
                decoded[i] = .text(String(view))
            } else if let h = entry["fnv1a64"] as? String, let n = entry["scalars"] as? Int {
                decoded[i] = .hash(fnv1a64: h, scalars: n)
            }
        }
        return TokenizerFixture(name: name, documents: docs, ids: ids, decoded: decoded)
    }
}

/// Checks `tokenizer` against the fixture `fixture` (e.g. "smollm2"): identical ids for every document of the
/// corpus and identical decoded text. On failure, reports the first mismatch with its context.
/// Returns the number of documents whose ids matched.
@discardableResult
func assertMatchesFixture(tokenizer: some TextTokenizer, fixture name: String, checkDecode: Bool = true,
                          file: StaticString = #filePath, line: UInt = #line) throws -> Int {
    let fixture = try TokenizerFixture.load(name)
    var matched = 0
    var firstIDMismatch: String?
    var firstDecodeMismatch: String?
    for (i, doc) in fixture.documents.enumerated() {
        let got = tokenizer.encode(doc)
        let want = fixture.ids[i]
        if got == want {
            matched += 1
        } else if firstIDMismatch == nil {
            var k = 0
            while k < min(got.count, want.count), got[k] == want[k] { k += 1 }
            let lo = max(0, k - 5)
            func show(_ ids: [Int32]) -> String {
                ids[lo..<min(ids.count, k + 6)].map { "\($0)=\(debugString(tokenizer.tokenString($0) ?? "?"))" }
                    .joined(separator: " ")
            }
            let prefix = tokenizer.decode(Array(want[0..<k]))
            let context = String(doc.unicodeScalars.dropFirst(max(0, prefix.unicodeScalars.count - 30)).prefix(80))
            firstIDMismatch = """
                \(name): document \(i) (\(doc.utf8.count) bytes): ids differ at token \(k) of \(want.count) (we give \(got.count))
                  text near there: \(debugString(context))
                  expected: \(show(want))
                  got:      \(show(got))
                """
        }
        if checkDecode {
            let text = tokenizer.decode(want)
            let ok: Bool
            let wanted: String
            switch fixture.decoded[i] {
            case let .text(t):
                ok = Array(text.utf8) == Array(t.utf8)
                wanted = t
            case let .hash(h, n):
                ok = fnv1a64Hex(Array(text.utf8)) == h && text.unicodeScalars.count == n
                wanted = "<\(n) scalars, FNV-1a \(h)>"
            }
            if !ok, firstDecodeMismatch == nil {
                let a = Array(text.unicodeScalars), b = Array(wanted.unicodeScalars)
                var k = 0
                while k < min(a.count, b.count), a[k] == b[k] { k += 1 }
                func around(_ s: [Unicode.Scalar]) -> String {
                    var v = String.UnicodeScalarView()
                    v.append(contentsOf: s[max(0, k - 20)..<min(s.count, k + 40)])
                    return debugString(String(v))
                }
                firstDecodeMismatch = """
                    \(name): document \(i): decoded text differs at scalar \(k)
                      expected: \(around(b))
                      got:      \(around(a))
                    """
            }
        }
    }
    if let m = firstIDMismatch {
        XCTFail("\(matched)/\(fixture.documents.count) documents match\n\(m)", file: file, line: line)
    }
    if let m = firstDecodeMismatch { XCTFail(m, file: file, line: line) }
    return matched
}

func debugString(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
        switch c {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\"": out += "\\\""
        default:
            if c.value < 0x20 || (0x7F..<0xA0).contains(c.value) { out += String(format: "\\u{%X}", c.value) } else { out.unicodeScalars.append(c) }
        }
    }
    return out + "\""
}
