import FuseFormats
import FuseText
import Foundation

/// Vocabulary maps on disk, one file per (source tokenizer, target tokenizer, method, format version; for `ms` also the
/// corpus), named `vocab-map-v2-<source fingerprint>-<target fingerprint>-<method>[-<corpus fingerprint>].bin`.
/// Little-endian:
///
///     "FUSEVMAP" · u32 version · method, source fingerprint, target fingerprint, corpus fingerprint (u8 length +
///     ASCII each; the corpus one empty unless `ms`) · u32 source count · u32 target count
///     · i32 target id × source count · i32 distance × source count · u64 FNV-1a of everything before
///
/// Written under a temporary name and renamed. A file at the expected name that does not read back (truncated,
/// checksum, other fingerprints) is an error naming it, not silently rebuilt: something other than this program
/// wrote it. A new format version gets a new name, so old files are simply not used.
public enum VocabularyMapCache {
    public static let version: UInt32 = 2
    static let magic = Array("FUSEVMAP".utf8)

    public static func fileName(sourceFingerprint: String, targetFingerprint: String, method: VocabularyMethod,
                                corpusFingerprint: String = "") -> String {
        let corpus = corpusFingerprint.isEmpty ? "" : "-\(corpusFingerprint)"
        return "vocab-map-v\(version)-\(sourceFingerprint)-\(targetFingerprint)-\(method.rawValue)\(corpus).bin"
    }

    /// The cached map when `directory` holds one for this pair, method (and corpus), else a freshly built one, written
    /// there. `corpus` is required by methods that count co-alignments (`ms`); its counting runs only on a miss.
    public static func loadOrBuild(source: NormalizedVocabulary, target: NormalizedVocabulary, method: VocabularyMethod,
                                   directory: URL?, corpus: MappingStatisticsSource? = nil) throws -> (map: VocabularyMap, cached: Bool) {
        if method.needsCorpus && corpus == nil {
            throw FusionError("the \(method.rawValue) vocabulary map is built from a corpus's co-alignments: it needs the "
                              + "prepared corpus and the source's dump")
        }
        let corpusFingerprint = method.needsCorpus ? corpus!.corpusFingerprint : ""
        func build() throws -> VocabularyMap {
            let statistics = try method.needsCorpus ? corpus!.collect() : nil
            return VocabularyMap.build(source: source, target: target, method: method, statistics: statistics)
        }
        guard let directory else { return (try build(), false) }
        let url = directory.appendingPathComponent(fileName(sourceFingerprint: source.fingerprint, targetFingerprint: target.fingerprint,
                                                            method: method, corpusFingerprint: corpusFingerprint))
        if FileManager.default.fileExists(atPath: url.path) {
            let map = try read(url)
            guard map.sourceFingerprint == source.fingerprint, map.targetFingerprint == target.fingerprint,
                  map.method == method, map.corpusFingerprint == corpusFingerprint,
                  map.sourceCount == source.count, map.targetCount == target.count else {
                throw FormatError(url: url, "holds the map of other tokenizers, another method or another corpus "
                                  + "(\(map.sourceFingerprint) → \(map.targetFingerprint), \(map.method.rawValue)); delete it to rebuild")
            }
            return (map, true)
        }
        let map = try build()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw FormatError(url: directory, "cannot create the cache directory (\(FormatError.reason(error)))")
        }
        try write(map, to: url)
        return (map, false)
    }

    public static func encode(_ map: VocabularyMap) -> Data {
        var out = Data(magic)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func text(_ s: String) {
            let bytes = Array(s.utf8.prefix(255))
            out.append(UInt8(bytes.count))
            out.append(contentsOf: bytes)
        }
        u32(version)
        text(map.method.rawValue)
        text(map.sourceFingerprint)
        text(map.targetFingerprint)
        text(map.corpusFingerprint)
        u32(UInt32(map.sourceCount))
        u32(UInt32(map.targetCount))
        for v in map.targetIDs { u32(UInt32(bitPattern: v)) }
        for v in map.distances { u32(UInt32(bitPattern: v)) }
        let sum = fnv1a64(out)
        withUnsafeBytes(of: sum.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    public static func write(_ map: VocabularyMap, to url: URL) throws {
        try AtomicFile.write(encode(map), to: url)
    }

    public static func read(_ url: URL) throws -> VocabularyMap {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FormatError(url: url, "cannot read (\(FormatError.reason(error)))")
        }
        return try decode(data, file: url.path)
    }

    static func decode(_ data: Data, file: String) throws -> VocabularyMap {
        let bytes = [UInt8](data)
        func fail(_ problem: String) -> FormatError {
            FormatError(file: file, "not a valid vocabulary map: \(problem); delete it to rebuild")
        }
        guard bytes.count >= magic.count + 8, Array(bytes.prefix(magic.count)) == magic else { throw fail("bad magic") }
        let body = bytes.count - 8
        var stored: UInt64 = 0
        for i in 0..<8 { stored |= UInt64(bytes[body + i]) << (8 * UInt64(i)) }
        guard fnv1a64(Data(bytes[0..<body])) == stored else { throw fail("checksum mismatch (truncated or damaged)") }
        var p = magic.count
        func u32() throws -> UInt32 {
            guard p + 4 <= body else { throw fail("truncated") }
            defer { p += 4 }
            return UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24
        }
        func text() throws -> String {
            guard p < body else { throw fail("truncated") }
            let n = Int(bytes[p])
            guard p + 1 + n <= body else { throw fail("truncated") }
            defer { p += 1 + n }
            return String(decoding: bytes[(p + 1)..<(p + 1 + n)], as: UTF8.self)
        }
        let v = try u32()
        guard v == version else { throw fail("format version \(v), this program reads \(version)") }
        let methodName = try text()
        guard let method = VocabularyMethod(rawValue: methodName) else { throw fail("unknown method \"\(methodName)\"") }
        let sourceFingerprint = try text(), targetFingerprint = try text(), corpusFingerprint = try text()
        let sourceCount = Int(try u32()), targetCount = Int(try u32())
        guard body - p == sourceCount * 8 else { throw fail("size does not match \(sourceCount) source ids") }
        var ids = [Int32](repeating: 0, count: sourceCount), distances = ids
        for i in 0..<sourceCount { ids[i] = Int32(bitPattern: try u32()) }
        for i in 0..<sourceCount { distances[i] = Int32(bitPattern: try u32()) }
        for i in 0..<sourceCount where ids[i] < -1 || Int(ids[i]) >= targetCount || (ids[i] == -1) != (distances[i] < 0) {
            throw fail("entry \(i) maps to \(ids[i]) at distance \(distances[i]) (target has \(targetCount) ids)")
        }
        return VocabularyMap(method: method, sourceFingerprint: sourceFingerprint, targetFingerprint: targetFingerprint,
                             corpusFingerprint: corpusFingerprint, targetCount: targetCount, targetIDs: ids, distances: distances)
    }

    static func fnv1a64(_ data: Data) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in data {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        return h
    }
}

/// What an `ms` map is counted from: the corpus's fingerprint (it names the cached file) and the counting itself,
/// run only when no cached map exists.
public struct MappingStatisticsSource {
    public let corpusFingerprint: String
    public let collect: () throws -> MappingStatistics

    public init(corpusFingerprint: String, collect: @escaping () throws -> MappingStatistics) {
        self.corpusFingerprint = corpusFingerprint
        self.collect = collect
    }
}
