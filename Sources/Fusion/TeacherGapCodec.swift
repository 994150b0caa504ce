import FuseFormats
import Foundation

/// The `qgap` text record ("FTB2"): each position's entries in value order (most likely first), log-probabilities
/// quantised to steps of 2⁻⁹ (error ≤ 2⁻¹⁰ < 1e-3) and stored as the gaps between consecutive ranks, each kind of
/// number in its own zstd stream so each gets its own entropy tables:
///
///   "FTB2" · textID · n · k · ceCount · idBytes · streamCount (LEB128 varints) · ceSum (f64 LE)
///   · streamCount × compressed length (varints) · the streams, each a zstd frame with its checksum:
///     0 tokens: n source tokens (varints)
///     1 top: each position's top-1 quantised value q = round(−log p · 2⁹) (varints)
///     2 gaps: q[p][j] − q[p][j−1] for j = 1 ..< k, rank-major (all positions' rank-1 gaps, then rank 2, …), one byte
///       each; 255 means "255 + the next varint of stream 3"
///     3 large gaps: those varints
///     4 … 4 + idBytes − 1: the ids, rank-major, as byte planes (least significant first) of id + 1, where 0 stands for
///       "the source's next token" (the most frequent top-1)
///     4 + idBytes (when the text keeps it): each position's cross-entropy on its next token, round(ce · 2⁹) (varints),
///       only for the positions whose next token is not among their entries (elsewhere it is that entry's −log p)
///
/// Measured on SmolLM2's dump of the sample (docs/performance.md): 2.72 bytes per entry at k = 10 and 2.49 at
/// k = 128, against 3.18 / 2.86 for the `q16` record, and decoding needs no per-position sort.
enum TeacherGapCodec {
    static let magic: [UInt8] = Array("FTB2".utf8)
    static let stepsPerNat: Float = 512
    /// Log-probabilities below this (p < e^−16384, zero in Float32) are stored as it; q stays exact in Float32.
    static let floor: Float = -16384
    static let escape: UInt8 = 255
    static let zstdLevel: Int32 = 3

    /// The largest error a stored log-probability can have.
    static var maxError: Float { 0.5 / stepsPerNat }

    static func quantised(_ logProb: Float) -> UInt32 {
        let clamped = logProb.isNaN ? floor : min(0, max(floor, logProb))
        return UInt32((-clamped * stepsPerNat).rounded())
    }

    static func encode(_ b: TeacherText) throws -> Data {
        let n = b.tokens.count, k = b.k
        // Each row in (q ascending, id ascending) order: the order a reader restores, ties included.
        var q = [UInt32](repeating: 0, count: n * k), ids = [Int32](repeating: 0, count: n * k)
        for p in 0..<n {
            let row = (p * k)..<((p + 1) * k)
            let order = row.map { (quantised(b.topLogProbs[$0]), b.topIDs[$0]) }.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            for (j, entry) in order.enumerated() { (q[p * k + j], ids[p * k + j]) = entry }
        }
        var tokens: [UInt8] = [], top: [UInt8] = [], large: [UInt8] = []
        var gaps = [UInt8](repeating: 0, count: n * max(0, k - 1))
        for t in b.tokens { Varint.append(UInt64(UInt32(bitPattern: t)), to: &tokens) }
        for p in 0..<n { Varint.append(UInt64(q[p * k]), to: &top) }
        for j in 1..<max(1, k) {
            for p in 0..<n {
                let gap = q[p * k + j] - q[p * k + j - 1]
                if gap < UInt32(escape) {
                    gaps[(j - 1) * n + p] = UInt8(gap)
                } else {
                    gaps[(j - 1) * n + p] = escape
                    Varint.append(UInt64(gap - UInt32(escape)), to: &large)
                }
            }
        }
        // id + 1, or 0 for the next source token; planes sized by the largest code.
        var codes = [UInt32](repeating: 0, count: n * k)
        var largest: UInt32 = 0
        for j in 0..<k {
            for p in 0..<n {
                let id = ids[p * k + j]
                let code: UInt32 = p + 1 < n && id == b.tokens[p + 1] ? 0 : UInt32(bitPattern: id) + 1
                codes[j * n + p] = code
                largest = max(largest, code)
            }
        }
        let idBytes = largest < 1 << 8 ? 1 : largest < 1 << 16 ? 2 : largest < 1 << 24 ? 3 : 4
        var streams = [tokens, top, gaps, large]
        for plane in 0..<idBytes { streams.append(codes.map { UInt8(truncatingIfNeeded: $0 >> (8 * plane)) }) }
        if let tokenCE = b.tokenCE {
            // Where the next token is among the kept entries its −log p is already there: only the others are stored.
            var ce: [UInt8] = []
            for p in 0..<n where Self.nextTokenEntry(p, ids, b.tokens, k) == nil {
                Varint.append(UInt64(quantised(-tokenCE[p])), to: &ce)  // ce ≥ 0 is a −log p
            }
            streams.append(ce)
        }

        var out = Data(magic)
        for v in [b.textID, n, k, b.ceCount, idBytes, streams.count] { Varint.append(UInt64(v), to: &out) }
        withUnsafeBytes(of: b.ceSum.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        let compressed = try streams.map { try Zstd.compress(Data($0), level: zstdLevel, checksum: true) }
        for c in compressed { Varint.append(UInt64(c.count), to: &out) }
        for c in compressed { out.append(c) }
        return out
    }

    /// Which entry of position p is the text's next token, if it was kept.
    static func nextTokenEntry(_ p: Int, _ ids: [Int32], _ tokens: [Int32], _ k: Int) -> Int? {
        guard p + 1 < tokens.count else { return nil }
        return (0..<k).first { ids[p * k + $0] == tokens[p + 1] }
    }

    static func decode(_ data: Data, file: String, item: String) throws -> TeacherText {
        let record = try data.withUnsafeBytes { raw in
            var r = ByteReader(raw, file: file, item: item)
            guard try r.bytes(4).elementsEqual(magic) else { throw r.fail("not a qgap text record (bad magic)") }
            let (textID, n, k, ceCount, idBytes, streamCount) = (try r.count(), try r.count(), try r.count(), try r.count(),
                                                                 try r.count(), try r.count())
            guard k > 0, k <= 1 << 16, n <= 1 << 24, (1...4).contains(idBytes), [4, 5].contains(streamCount - idBytes) else {
                throw r.fail("implausible text record shape n=\(n) k=\(k) id bytes=\(idBytes) streams=\(streamCount)")
            }
            let ceSum = Double(bitPattern: UInt64(littleEndian: try r.bytes(8).loadUnaligned(as: UInt64.self)))
            let lengths = try (0..<streamCount).map { _ in try r.count() }
            let streams = try lengths.map { Data(try r.bytes($0)) }
            guard r.atEnd else { throw r.fail("\(r.remaining) unexpected bytes after the record") }
            return (textID: textID, n: n, k: k, ceCount: ceCount, idBytes: idBytes, ceSum: ceSum, streams: streams)
        }
        let (n, k, idBytes) = (record.n, record.k, record.idBytes)
        let plain = try record.streams.enumerated().map { i, s -> [UInt8] in
            do { return [UInt8](try Zstd.decompress(s, source: file)) } catch let e as FormatError {
                throw FormatError(file: file, item: item, "stream \(i): \(e.problem) (checksum mismatch or corrupt frame)")
            }
        }
        func reader(_ i: Int, _ body: (inout ByteReader) throws -> Void) throws {
            try plain[i].withUnsafeBytes { raw in
                var r = ByteReader(raw, file: file, item: "\(item), stream \(i)")
                try body(&r)
                guard r.atEnd else { throw r.fail("\(r.remaining) unexpected bytes") }
            }
        }
        func fail(_ problem: String) -> FormatError { FormatError(file: file, item: item, problem) }
        // Stream sizes first: they bound n·k by bytes actually present before anything of that size is allocated.
        guard plain[2].count == n * (k - 1) else { throw fail("gap stream holds \(plain[2].count) bytes, expected \(n * (k - 1))") }
        for plane in 0..<idBytes where plain[4 + plane].count != n * k {
            throw fail("id plane \(plane) holds \(plain[4 + plane].count) bytes, expected \(n * k)")
        }
        var tokens = [Int32](repeating: 0, count: n)
        try reader(0) { r in for i in 0..<n { tokens[i] = try r.id() } }
        var q = [UInt32](repeating: 0, count: n * k)
        try reader(1) { r in
            for p in 0..<n {
                let v = try r.varint()
                guard v <= UInt64(quantised(floor)) else { throw r.fail("log-probability below the floor") }
                q[p * k] = UInt32(v)
            }
        }
        try plain[2].withUnsafeBytes { gaps in
            try reader(3) { large in
                for j in 1..<max(1, k) {
                    for p in 0..<n {
                        var gap = UInt64(gaps[(j - 1) * n + p])
                        if gap == UInt64(escape) { gap += try large.varint() }
                        let value = UInt64(q[p * k + j - 1]) + gap
                        guard value <= UInt64(quantised(floor)) else { throw large.fail("log-probability below the floor") }
                        q[p * k + j] = UInt32(value)
                    }
                }
            }
        }
        var topIDs = [Int32](repeating: 0, count: n * k)
        for j in 0..<k {
            for p in 0..<n {
                var code: UInt32 = 0
                for plane in 0..<idBytes { code |= UInt32(plain[4 + plane][j * n + p]) << (8 * plane) }
                if code == 0 {
                    guard p + 1 < n else { throw fail("position \(p) refers to a next token past the text") }
                    topIDs[p * k + j] = tokens[p + 1]
                } else {
                    guard code - 1 <= UInt32(Int32.max) else { throw fail("token id out of range") }
                    topIDs[p * k + j] = Int32(code - 1)
                }
            }
        }
        let topLogProbs = q.map { -Float($0) / stepsPerNat }
        var tokenCE: [Float]?
        if plain.count == 5 + idBytes {
            var ce = [Float](repeating: 0, count: n)
            try reader(4 + idBytes) { r in
                for p in 0..<n {
                    if let j = Self.nextTokenEntry(p, topIDs, tokens, k) {
                        ce[p] = -topLogProbs[p * k + j]
                        continue
                    }
                    let v = try r.varint()
                    guard v <= UInt64(quantised(floor)) else { throw r.fail("token ce out of range") }
                    ce[p] = Float(v) / stepsPerNat
                }
            }
            tokenCE = ce
        }
        return TeacherText(textID: record.textID, tokens: tokens, k: k, topIDs: topIDs, topLogProbs: topLogProbs,
                           ceSum: record.ceSum, ceCount: record.ceCount, tokenCE: tokenCE)
    }
}
