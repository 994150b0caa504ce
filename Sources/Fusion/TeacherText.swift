import FuseFormats
import Foundation

/// One prepared text as a source model saw it (a dump's unit; training blocks are cut from texts later): its own
/// tokens of the text, per position the k most likely next tokens with their log-probabilities (sorted by
/// log-prob, highest first), and the text's CLM cross-entropy against its tokens.
public struct TeacherText: Equatable, Sendable {
    public let textID: Int
    public let tokens: [Int32]
    public let k: Int
    /// [tokens.count × k], row t = distribution predicting token t+1.
    public let topIDs: [Int32]
    public let topLogProbs: [Float]
    /// Σ −log p(next token) over the scored positions, and their number (token-weighted means combine).
    public let ceSum: Double
    public let ceCount: Int
    public var ce: Double { ceCount > 0 ? ceSum / Double(ceCount) : 0 }
    /// [tokens.count] or nil: per position, −log p(next token) (0 at the last position, which has no next token in
    /// the text). Kept by qgap dumps; token-level MinCE needs it.
    public var tokenCE: [Float]?

    public init(textID: Int, tokens: [Int32], k: Int, topIDs: [Int32], topLogProbs: [Float], ceSum: Double, ceCount: Int,
                tokenCE: [Float]? = nil) {
        precondition(topIDs.count == tokens.count * k && topLogProbs.count == topIDs.count)
        precondition(tokenCE == nil || tokenCE!.count == tokens.count)
        self.tokenCE = tokenCE
        self.textID = textID
        self.tokens = tokens
        self.k = k
        self.topIDs = topIDs
        self.topLogProbs = topLogProbs
        self.ceSum = ceSum
        self.ceCount = ceCount
    }

    /// The same text keeping only each position's `n` most likely tokens (the k ablation: fuse with fewer than
    /// the dump holds, without dumping again). Rows are sorted highest first, so this is a prefix of each row.
    public func keepingTop(_ n: Int) -> TeacherText {
        guard n < k else { return self }
        var ids: [Int32] = [], values: [Float] = []
        ids.reserveCapacity(tokens.count * n)
        values.reserveCapacity(tokens.count * n)
        for p in 0..<tokens.count {
            ids += topIDs[(p * k)..<(p * k + n)]
            values += topLogProbs[(p * k)..<(p * k + n)]
        }
        return TeacherText(textID: textID, tokens: tokens, k: n, topIDs: ids, topLogProbs: values, ceSum: ceSum, ceCount: ceCount,
                           tokenCE: tokenCE)
    }
}

/// The uncompressed record of one text inside a shard frame (the manifest's `block_*` fields count these records;
/// the names stay as the format wrote them). Columnar, so zstd finds the redundancy:
///   "FTB1" · textID · n · k · ceCount (LEB128 varints) · ceSum (f64 LE)
///   · n source tokens (varints)
///   · per position, its k ids in ascending order as varint deltas (first one absolute)
///   · n·k values in the same order, in the dump's ValueEncoding.
/// Readers restore the highest-first order by sorting each position on the decoded values (ties: lower id first).
enum TeacherBlockCodec {
    static let magic: [UInt8] = Array("FTB1".utf8)

    static func encode(_ b: TeacherText, values encoding: ValueEncoding) -> Data {
        var out = Data(magic)
        for v in [b.textID, b.tokens.count, b.k, b.ceCount] { Varint.append(UInt64(v), to: &out) }
        withUnsafeBytes(of: b.ceSum.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        for t in b.tokens { Varint.append(UInt64(UInt32(bitPattern: t)), to: &out) }
        var sortedValues = [Float](repeating: 0, count: b.topIDs.count)
        for p in 0..<b.tokens.count {
            let row = (p * b.k)..<((p + 1) * b.k)
            let order = row.sorted { b.topIDs[$0] < b.topIDs[$1] }
            var previous: Int64 = 0
            for (j, i) in order.enumerated() {
                Varint.append(UInt64(Int64(b.topIDs[i]) - previous), to: &out)
                previous = Int64(b.topIDs[i])
                sortedValues[p * b.k + j] = b.topLogProbs[i]
            }
        }
        sortedValues.withUnsafeBufferPointer { encoding.append($0, to: &out) }
        return out
    }

    static func decode(_ data: Data, values encoding: ValueEncoding, file: String, item: String) throws -> TeacherText {
        try data.withUnsafeBytes { raw -> TeacherText in
            var r = ByteReader(raw, file: file, item: item)
            guard try r.bytes(4).elementsEqual(magic) else { throw r.fail("not a text record (bad magic)") }
            let textID = try r.count(), n = try r.count(), k = try r.count(), ceCount = try r.count()
            guard k > 0, k <= 1 << 16, n <= 1 << 24 else { throw r.fail("implausible text record shape n=\(n) k=\(k)") }
            let ceSum = Double(bitPattern: UInt64(littleEndian: try r.bytes(8).loadUnaligned(as: UInt64.self)))
            var tokens = [Int32](repeating: 0, count: n)
            for i in 0..<n { tokens[i] = try r.id() }
            var ids = [Int32](repeating: 0, count: n * k)
            for p in 0..<n {
                var previous: Int64 = 0
                for j in 0..<k {
                    previous += Int64(try r.varint())
                    guard previous <= Int64(Int32.max) else { throw r.fail("token id out of range") }
                    ids[p * k + j] = Int32(previous)
                }
            }
            let valueBytes = try r.bytes(n * k * encoding.bytesPerValue)
            let values = encoding.decode(valueBytes, count: n * k)
            guard r.atEnd else { throw r.fail("\(r.remaining) unexpected bytes after the record") }
            guard values.allSatisfy({ $0.isFinite }) else { throw r.fail("log-probabilities contain NaN or infinity") }
            // Back to highest-first order.
            var topIDs = ids, topLogProbs = values
            for p in 0..<n {
                let row = (p * k)..<((p + 1) * k)
                let order = row.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : ids[$0] < ids[$1] }
                for (j, i) in order.enumerated() {
                    topIDs[p * k + j] = ids[i]
                    topLogProbs[p * k + j] = values[i]
                }
            }
            return TeacherText(textID: textID, tokens: tokens, k: k, topIDs: topIDs, topLogProbs: topLogProbs,
                                ceSum: ceSum, ceCount: ceCount)
        }
    }
}

/// LEB128 unsigned varints.
enum Varint {
    static func append<Bytes: RangeReplaceableCollection>(_ value: UInt64, to out: inout Bytes) where Bytes.Element == UInt8 {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}

/// Bounds-checked reading of a record; every failure is a FormatError naming the file and the block.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    var position = 0
    let file: String, item: String

    init(_ buffer: UnsafeRawBufferPointer, file: String, item: String) {
        self.buffer = buffer
        self.file = file
        self.item = item
    }

    var remaining: Int { buffer.count - position }
    var atEnd: Bool { position == buffer.count }

    func fail(_ problem: String) -> FormatError { FormatError(file: file, item: item, problem) }

    mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw fail("truncated record") }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: buffer[position..<(position + n)])
    }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard position < buffer.count else { throw fail("truncated record") }
            let byte = buffer[position]
            position += 1
            guard shift < 64 else { throw fail("varint too long") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    mutating func count() throws -> Int {
        let v = try varint()
        guard v <= UInt64(Int32.max) else { throw fail("count \(v) out of range") }
        return Int(v)
    }

    mutating func id() throws -> Int32 {
        let v = try varint()
        guard v <= UInt64(Int32.max) else { throw fail("token id \(v) out of range") }
        return Int32(v)
    }
}
