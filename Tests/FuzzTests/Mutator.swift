import Foundation
import FuseTensor
import TestSupport
import XCTest

/// Seeded byte-level mutations of a valid file: bit flips, truncation, extreme values written over integer-sized
/// windows (lengths, counts, offsets), inserted, deleted and duplicated ranges — one to three per case.
struct Mutator {
    private var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func next() -> UInt64 { random.next() }

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0...below(3) {
            guard !bytes.isEmpty else { bytes = [UInt8(truncatingIfNeeded: next())]; continue }
            let at = below(bytes.count)
            switch below(7) {
            case 0:  // flip a few bits
                for _ in 0...below(4) { bytes[below(bytes.count)] ^= UInt8(1 << below(8)) }
            case 1:  // truncate
                bytes.removeSubrange(below(bytes.count)...)
            case 2:  // an extreme integer over a 1/2/4/8-byte window
                let width = [1, 2, 4, 8][below(4)], kind = below(5)
                for j in 0..<width where at + j < bytes.count {
                    let last = j == width - 1
                    let extremes: [UInt8] = [0xFF, 0x00, last ? 0x7F : 0xFF, last ? 0x80 : 0x00]  // max, 0, signed max, signed min (LE)
                    bytes[at + j] = kind < 4 ? extremes[kind] : UInt8(truncatingIfNeeded: next())
                }
            case 3:  // insert random bytes
                bytes.insert(contentsOf: (0...below(16)).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
            case 4:  // delete a range
                bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(64)))
            case 5:  // duplicate a range
                let piece = bytes[at..<min(bytes.count, at + 1 + below(64))]
                bytes.insert(contentsOf: piece, at: below(bytes.count))
            default:  // random byte values
                for _ in 0...below(8) { bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: next()) }
            }
        }
        return bytes
    }

    /// A JSON document with one value replaced by another type or an extreme, or one key removed.
    mutating func mutateJSON(_ value: Any) -> Any {
        let replacements: [Any] = [NSNull(), -1, 0, Int.max, Int64.min, 1e308, -1e308, "", "x", [Any](), [String: Any](),
                                   true, String(repeating: "é", count: 50), [1, 2, 3]]
        func walk(_ v: Any, depth: Int) -> Any {
            if var map = v as? [String: Any], !map.isEmpty {
                let keys = map.keys.sorted()
                let key = keys[below(keys.count)]
                if below(4) == 0 { map[key] = nil; return map }
                map[key] = depth > 6 || below(3) == 0 ? replacements[below(replacements.count)] : walk(map[key]!, depth: depth + 1)
                return map
            }
            if var list = v as? [Any], !list.isEmpty {
                let i = below(list.count)
                if below(5) == 0 { list.remove(at: i); return list }
                list[i] = depth > 6 || below(3) == 0 ? replacements[below(replacements.count)] : walk(list[i], depth: depth + 1)
                return list
            }
            return replacements[below(replacements.count)]
        }
        return walk(value, depth: 0)
    }
}

/// Feeds mutated copies of a valid file to a reader: every case must either read or throw an error that names the
/// file. A crash or a hang fails the whole test run, which is the point.
struct ReaderFuzz {
    let name: String
    let seedBytes: [UInt8]
    /// The file name each case is written under (its extension picks the format where that matters).
    let fileName: String
    var cases = 300
    var structuredJSON = false

    /// Runs the cases; returns (read fine, refused) counts.
    @discardableResult
    func run(file: StaticString = #filePath, line: UInt = #line, _ read: (URL) throws -> Void) -> (ok: Int, refused: Int) {
        let dir = temporaryDirectory("fuzz-\(name)")
        var mutator = Mutator(seed: UInt64(abs(name.hashValueStable)))
        var ok = 0, refused = 0
        // FUZZ_SCALE=N runs N times the cases (a longer local run); CI runs the default.
        let cases = self.cases * max(1, Int(ProcessInfo.processInfo.environment["FUZZ_SCALE"] ?? "") ?? 1)
        let json = structuredJSON ? try? JSONSerialization.jsonObject(with: Data(seedBytes), options: [.fragmentsAllowed]) : nil
        for i in 0..<cases {
            let bytes: [UInt8]
            if let json, i % 2 == 0, let data = try? JSONSerialization.data(withJSONObject: mutator.mutateJSON(json), options: [.fragmentsAllowed]) {
                bytes = [UInt8](data)
            } else {
                bytes = mutator.mutate(seedBytes)
            }
            let url = dir.appendingPathComponent("case\(i)-\(fileName)")
            try? Data(bytes).write(to: url)
            do {
                try read(url)
                ok += 1
            } catch {
                refused += 1
                if ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] != nil { print("  \(name) case \(i): \(error)") }
                let text = "\(error)"
                if !text.contains(url.lastPathComponent) {
                    XCTFail("\(name) case \(i): the error does not name the file: \(text)", file: file, line: line)
                }
            }
            try? FileManager.default.removeItem(at: url)
        }
        print("fuzz \(name): \(cases) cases, \(ok) read, \(refused) refused with an error naming the file")
        return (ok, refused)
    }
}

extension String {
    /// FNV-1a: String.hashValue changes per process; case sequences must not.
    var hashValueStable: Int {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return Int(truncatingIfNeeded: h >> 1)
    }
}
