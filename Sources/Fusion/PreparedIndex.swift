import FuseFormats
import Foundation

/// `index.bin`: where every text sits in the concatenated target-token stream and which texts every block
/// covers. Blocks are cut from the stream of all texts' target tokens (EOS included) every `blockSize`
/// tokens; the remainder after the last whole block is dropped (HF `group_texts`). Little-endian:
///
///     "FPI1" · u32 0 · u64 textCount · u64 blockCount · u64 blockSize · u64 tokenCount
///     (textCount + 1) × u64   offsets: text i holds stream tokens [offset[i], offset[i+1])
///     blockCount × 4 × u64    firstText, start within it, lastText, end within it (exclusive)
///
/// The block records repeat what the offsets imply so a block's texts are found without a search, and a
/// reader checks the two agree.
enum PreparedIndex {
    static let magic: [UInt8] = Array("FPI1".utf8)
    static let headerBytes = 40

    struct BlockRecord: Equatable {
        var firstText: Int, start: Int, lastText: Int, end: Int
    }

    static func blocks(offsets: [Int], blockSize: Int) -> [BlockRecord] {
        let textCount = offsets.count - 1
        let blockCount = offsets[textCount] / blockSize
        var out: [BlockRecord] = []
        out.reserveCapacity(blockCount)
        var t = 0
        for b in 0..<blockCount {
            let lo = b * blockSize, hi = lo + blockSize
            while offsets[t + 1] <= lo { t += 1 }  // first text with a token at or after lo (skips empty texts)
            var last = t
            while offsets[last + 1] < hi { last += 1 }
            out.append(BlockRecord(firstText: t, start: lo - offsets[t], lastText: last, end: hi - offsets[last]))
        }
        return out
    }

    static func encode(tokenCounts: [Int], blockSize: Int) -> Data {
        var offsets = [Int](repeating: 0, count: tokenCounts.count + 1)
        for (i, n) in tokenCounts.enumerated() { offsets[i + 1] = offsets[i] + n }
        let records = blocks(offsets: offsets, blockSize: blockSize)
        var out = Data(capacity: headerBytes + 8 * offsets.count + 32 * records.count)
        func u64(_ v: Int) { withUnsafeBytes(of: UInt64(v).littleEndian) { out.append(contentsOf: $0) } }
        out.append(contentsOf: magic)
        out.append(contentsOf: [0, 0, 0, 0])
        u64(tokenCounts.count)
        u64(records.count)
        u64(blockSize)
        u64(offsets[tokenCounts.count])
        for o in offsets { u64(o) }
        for r in records {
            u64(r.firstText); u64(r.start); u64(r.lastText); u64(r.end)
        }
        return out
    }

    final class Reader {
        let url: URL
        let data: Data
        let textCount: Int, blockCount: Int, blockSize: Int, tokenCount: Int

        init(url: URL, textCount expectedTexts: Int, blockSize expectedBlockSize: Int) throws {
            self.url = url
            do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
                throw FormatError(url: url, "cannot read the block index (\(FormatError.reason(error)))")
            }
            guard data.count >= headerBytes, data.prefix(4).elementsEqual(magic) else {
                throw FormatError(url: url, "not a prepared block index (bad magic or too short)")
            }
            let header = data.withUnsafeBytes { raw in
                (0..<4).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 + 8 * $0, as: UInt64.self)) }
            }
            let n = UInt64(data.count)
            guard header[0] < n / 8, header[1] < n / 32,
                  UInt64(headerBytes) + 8 * (header[0] + 1) + 32 * header[1] == n else {
                throw FormatError(url: url, item: "header", "sizes do not add up to the file's \(n) bytes (truncated or corrupt)")
            }
            textCount = Int(header[0])
            blockCount = Int(header[1])
            blockSize = Int(header[2])
            tokenCount = Int(truncatingIfNeeded: header[3])
            guard textCount == expectedTexts, blockSize == expectedBlockSize, blockSize > 0,
                  blockCount == tokenCount / blockSize, offset(textCount) == tokenCount else {
                throw FormatError(url: url, item: "header", "describes \(textCount) texts in blocks of \(blockSize); prepared.json says \(expectedTexts) texts in blocks of \(expectedBlockSize)")
            }
        }

        func offset(_ i: Int) -> Int {
            data.withUnsafeBytes { Int(truncatingIfNeeded: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: headerBytes + 8 * i, as: UInt64.self))) }
        }

        func block(_ b: Int) -> BlockRecord {
            data.withUnsafeBytes { raw in
                let o = headerBytes + 8 * (textCount + 1) + 32 * b
                let v = (0..<4).map { Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o + 8 * $0, as: UInt64.self))) }
                return BlockRecord(firstText: v[0], start: v[1], lastText: v[2], end: v[3])
            }
        }

        /// The texts block `b` covers, each with its range of target tokens, checked against the offsets.
        func spans(ofBlock b: Int) throws -> [(text: Int, tokens: Range<Int>)] {
            let r = block(b)
            guard r.firstText >= 0, r.firstText <= r.lastText, r.lastText < textCount else {
                throw FormatError(url: url, item: "block \(b)", "text range \(r.firstText)...\(r.lastText) is outside 0..<\(textCount)")
            }
            var out: [(text: Int, tokens: Range<Int>)] = []
            var covered = 0
            for t in r.firstText...r.lastText {
                let length = offset(t + 1) - offset(t)
                let lo = t == r.firstText ? r.start : 0, hi = t == r.lastText ? r.end : length
                guard lo >= 0, lo <= hi, hi <= length else {
                    throw FormatError(url: url, item: "block \(b)", "token range \(lo)..<\(hi) does not fit text \(t) of \(length) tokens")
                }
                if lo < hi { out.append((t, lo..<hi)) }
                covered += hi - lo
            }
            guard covered == blockSize, offset(r.firstText) + r.start == b * blockSize else {
                throw FormatError(url: url, item: "block \(b)", "covers \(covered) tokens from stream position \(offset(r.firstText) + r.start), expected \(blockSize) from \(b * blockSize)")
            }
            return out
        }
    }
}
