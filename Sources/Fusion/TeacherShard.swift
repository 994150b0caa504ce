import FuseFormats
import Foundation

/// A shard file: one independent zstd frame per text record (with zstd's content checksum), then a footer
///   (blockCount + 1) × u64 frame offsets · u64 blockCount · "FTS1"
/// so a reader seeks to any block without decompressing the others. Written to a temporary name and
/// renamed when complete: a shard file that exists is whole.
public enum TeacherShard {
    static let footerMagic: [UInt8] = Array("FTS1".utf8)

    /// Writes `blocks` (consecutive block ids) as one shard; returns the number of positions.
    @discardableResult
    public static func write(_ blocks: [TeacherText], encoding: ValueEncoding, to url: URL) throws -> Int {
        var file = Data()
        var offsets: [UInt64] = [0]
        var positions = 0
        for b in blocks {
            file.append(try frame(b, encoding))
            offsets.append(UInt64(file.count))
            positions += b.tokens.count
        }
        for o in offsets { withUnsafeBytes(of: o.littleEndian) { file.append(contentsOf: $0) } }
        withUnsafeBytes(of: UInt64(blocks.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: footerMagic)
        try AtomicFile.write(file, to: url)
        return positions
    }

    /// A memory-mapped shard with its frame offsets read and checked.
    public final class Reader {
        public let url: URL
        let data: Data
        let offsets: [Int]
        public var blockCount: Int { offsets.count - 1 }

        public init(url: URL) throws {
            self.url = url
            do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
                throw FormatError(url: url, "cannot read dump shard (\(FormatError.reason(error)))")
            }
            let n = data.count
            guard n >= 12, data.suffix(4).elementsEqual(footerMagic) else {
                throw FormatError(url: url, "not a complete dump shard (footer missing: truncated or not a shard)")
            }
            let count = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: n - 12, as: UInt64.self)) }
            guard count < UInt64(n / 8) else { throw FormatError(url: url, "corrupt footer (block count \(count))") }
            let footerStart = n - 12 - 8 * (Int(count) + 1)
            guard footerStart >= 0 else { throw FormatError(url: url, "corrupt footer (runs past the start of the file)") }
            let offsets = data.withUnsafeBytes { raw in
                (0...Int(count)).map { Int(clamping: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: footerStart + 8 * $0, as: UInt64.self))) }
            }
            guard offsets.first == 0, offsets.last == footerStart, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw FormatError(url: url, "corrupt footer (frame offsets out of order or not covering the data)")
            }
            self.offsets = offsets
        }

        /// The `i`-th block of the shard, decompressed (checksum verified) and decoded.
        public func block(at i: Int, encoding: ValueEncoding) throws -> TeacherText {
            precondition(i >= 0 && i < blockCount)
            return try TeacherShard.text(fromFrame: data.subdata(in: offsets[i]..<offsets[i + 1]), encoding, file: url.path,
                                         item: "block \(i) of the shard")
        }
    }

    /// One text as a shard stores it: its record in a zstd frame with a checksum.
    public static func frame(_ text: TeacherText, _ encoding: ValueEncoding) throws -> Data {
        try Zstd.compress(try record(text, encoding), level: encoding == .qgap ? 1 : 3, checksum: true)
    }

    /// The text in a frame made by `frame`.
    public static func text(fromFrame frame: Data, _ encoding: ValueEncoding, file: String, item: String) throws -> TeacherText {
        let raw: Data
        do { raw = try Zstd.decompress(frame, source: file) } catch let e as FormatError {
            throw FormatError(file: file, item: item, "\(e.problem) (checksum mismatch or corrupt frame)")
        }
        return try encoding == .qgap ? TeacherGapCodec.decode(raw, file: file, item: item)
            : TeacherBlockCodec.decode(raw, values: encoding, file: file, item: item)
    }

    /// A text's record in the layout its encoding names (qgap: FTB2, its streams already compressed, so the frame
    /// around it only adds the checksum; the others: FTB1).
    static func record(_ text: TeacherText, _ encoding: ValueEncoding) throws -> Data {
        encoding == .qgap ? try TeacherGapCodec.encode(text) : TeacherBlockCodec.encode(text, values: encoding)
    }
}
