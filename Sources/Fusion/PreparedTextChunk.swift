import FuseFormats
import Foundation

/// One prepared text: a whole document, or one piece of a long one (see `PreparedTextCutter`).
public struct PreparedText: Equatable, Sendable {
    public var text: String
    /// Target token ids of `text`, with EOS appended when the text ends its document.
    public var targetTokens: [Int32]
    /// Position of the document in the corpus stream (0-based, empty documents counted).
    public var document: Int
    /// Piece number within the document (0 for a document that was not cut).
    public var piece: Int
    public var endsDocument: Bool
    public var domain: String?
    /// Index into the manifest's corpus files, and the row/line within that file.
    public var sourceFile: Int
    public var sourceRow: Int

    public init(text: String, targetTokens: [Int32], document: Int, piece: Int, endsDocument: Bool,
                domain: String?, sourceFile: Int, sourceRow: Int) {
        self.text = text
        self.targetTokens = targetTokens
        self.document = document
        self.piece = piece
        self.endsDocument = endsDocument
        self.domain = domain
        self.sourceFile = sourceFile
        self.sourceRow = sourceRow
    }
}

/// A chunk file of prepared texts (`texts-NNNNNN.bin`), little-endian, read through a memory map:
///
///     "FPC1" · u32 tokenBytes (2|4) · u64 textCount · u64 tokenCount · u64 byteCount
///     textCount × 40-byte records:
///         u64 document · u64 sourceRow · u32 sourceFile · u32 piece · u32 tokenCount
///         u32 flags (bit 0: ends its document) · u32 textBytes · u32 domainBytes (0xFFFFFFFF: none)
///     tokenCount target ids (tokenBytes each), text after text
///     byteCount bytes: each text's UTF-8 followed by its domain's
///
/// Offsets are prefix sums of the records, computed when the chunk is opened. The file is written whole
/// under a temporary name and renamed, so a chunk that exists is complete; its size is checked against
/// the header and its SHA-256 is in prepared.json.
enum PreparedTextChunk {
    static let magic: [UInt8] = Array("FPC1".utf8)
    static let headerBytes = 32
    static let recordBytes = 40
    static let noDomain = UInt32.max

    static func encode(_ texts: [PreparedText], tokenBytes: Int) -> Data {
        var tokenCount = 0, byteCount = 0
        for t in texts {
            tokenCount += t.targetTokens.count
            byteCount += t.text.utf8.count + (t.domain?.utf8.count ?? 0)
        }
        var out = Data(capacity: headerBytes + recordBytes * texts.count + tokenBytes * tokenCount + byteCount)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        out.append(contentsOf: magic)
        u32(UInt32(tokenBytes))
        u64(UInt64(texts.count))
        u64(UInt64(tokenCount))
        u64(UInt64(byteCount))
        for t in texts {
            u64(UInt64(t.document))
            u64(UInt64(t.sourceRow))
            u32(UInt32(t.sourceFile))
            u32(UInt32(t.piece))
            u32(UInt32(t.targetTokens.count))
            u32(t.endsDocument ? 1 : 0)
            u32(UInt32(t.text.utf8.count))
            u32(t.domain.map { UInt32($0.utf8.count) } ?? noDomain)
        }
        for t in texts {
            if tokenBytes == 2 {
                for id in t.targetTokens { u16(UInt16(id), &out) }
            } else {
                for id in t.targetTokens { u32(UInt32(bitPattern: id)) }
            }
        }
        for t in texts {
            out.append(contentsOf: t.text.utf8)
            if let d = t.domain { out.append(contentsOf: d.utf8) }
        }
        return out
    }

    private static func u16(_ v: UInt16, _ out: inout Data) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    /// A chunk file opened for reading: header and records checked, offsets computed.
    final class Reader {
        let url: URL
        let data: Data
        let tokenBytes: Int
        let count: Int
        let tokenCount: Int
        /// Per text: first token (in tokens) and first byte of its text within the chunk's areas.
        private var tokenStart: [Int]
        private var byteStart: [Int]
        private let tokensOffset: Int
        private let bytesOffset: Int

        init(url: URL) throws {
            self.url = url
            do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
                throw FormatError(url: url, "cannot read prepared text chunk (\(FormatError.reason(error)))")
            }
            let n = data.count
            guard n >= headerBytes, data.prefix(4).elementsEqual(magic) else {
                throw FormatError(url: url, "not a prepared text chunk (bad magic or too short)")
            }
            let (width, texts, tokens, bytes) = data.withUnsafeBytes { raw in
                (Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))),
                 UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                 UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                 UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
            }
            guard width == 2 || width == 4 else { throw FormatError(url: url, item: "header", "token width \(width) is not 2 or 4") }
            // Sizes are checked in 64-bit before any product so a corrupt header cannot overflow.
            guard texts <= UInt64(n / recordBytes), tokens <= UInt64(n / width), bytes <= UInt64(n),
                  UInt64(headerBytes) + UInt64(recordBytes) * texts + UInt64(width) * tokens + bytes == UInt64(n) else {
                throw FormatError(url: url, item: "header", "sizes in the header do not add up to the file's \(n) bytes (truncated or corrupt)")
            }
            tokenBytes = width
            count = Int(texts)
            tokenCount = Int(tokens)
            tokensOffset = headerBytes + recordBytes * count
            bytesOffset = tokensOffset + width * tokenCount
            tokenStart = [Int](repeating: 0, count: count + 1)
            byteStart = [Int](repeating: 0, count: count + 1)
            var t = 0, b = 0
            for i in 0..<count {
                tokenStart[i] = t
                byteStart[i] = b
                let r = record(i)
                t += r.tokens
                b += r.textBytes + r.domainBytes
            }
            tokenStart[count] = t
            byteStart[count] = b
            guard t == tokenCount, b == Int(bytes) else {
                throw FormatError(url: url, item: "records", "records list \(t) tokens and \(b) bytes; the header says \(tokenCount) and \(bytes)")
            }
        }

        struct Record {
            var document: Int, sourceRow: Int, sourceFile: Int, piece: Int, tokens: Int
            var endsDocument: Bool, textBytes: Int, domainBytes: Int, hasDomain: Bool
        }

        func record(_ i: Int) -> Record {
            data.withUnsafeBytes { raw in
                let o = headerBytes + recordBytes * i
                func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o + at, as: UInt32.self)) }
                func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o + at, as: UInt64.self)) }
                let domain = u32(36)
                return Record(document: Int(truncatingIfNeeded: u64(0)), sourceRow: Int(truncatingIfNeeded: u64(8)),
                              sourceFile: Int(u32(16)), piece: Int(u32(20)), tokens: Int(u32(24)),
                              endsDocument: u32(28) & 1 != 0, textBytes: Int(u32(32)),
                              domainBytes: domain == noDomain ? 0 : Int(domain), hasDomain: domain != noDomain)
            }
        }

        func tokens(_ i: Int) -> [Int32] {
            let start = tokenStart[i], n = tokenStart[i + 1] - start
            return data.withUnsafeBytes { raw in
                let base = tokensOffset + tokenBytes * start
                if tokenBytes == 2 {
                    return (0..<n).map { Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: base + 2 * $0, as: UInt16.self))) }
                }
                return (0..<n).map { Int32(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * $0, as: UInt32.self))) }
            }
        }

        /// The domain of text `i` alone (its text is not decoded).
        func domain(_ i: Int) throws -> String? {
            let r = record(i)
            guard r.hasDomain else { return nil }
            let d: String? = data.withUnsafeBytes { raw in
                let start = bytesOffset + byteStart[i] + r.textBytes
                return String(validating: UnsafeRawBufferPointer(rebasing: raw[start..<(start + r.domainBytes)]), as: UTF8.self)
            }
            guard let d else { throw FormatError(url: url, item: "domain of text \(i) of the chunk", "is not valid UTF-8 (corrupt chunk)") }
            return d
        }

        func text(_ i: Int) throws -> PreparedText {
            let r = record(i)
            let (text, domain): (String?, String?) = data.withUnsafeBytes { raw in
                let start = bytesOffset + byteStart[i]
                let t = UnsafeRawBufferPointer(rebasing: raw[start..<(start + r.textBytes)])
                let d = UnsafeRawBufferPointer(rebasing: raw[(start + r.textBytes)..<(start + r.textBytes + r.domainBytes)])
                return (String(validating: t, as: UTF8.self), r.hasDomain ? String(validating: d, as: UTF8.self) : nil)
            }
            guard let text, r.hasDomain == (domain != nil) else {
                throw FormatError(url: url, item: "text \(i) of the chunk", "is not valid UTF-8 (corrupt chunk)")
            }
            return PreparedText(text: text, targetTokens: tokens(i), document: r.document, piece: r.piece,
                                endsDocument: r.endsDocument, domain: domain, sourceFile: r.sourceFile, sourceRow: r.sourceRow)
        }
    }
}
