import Crypto
import FuseCorpus
import FuseFormats
import FuseTensor
import FuseText
import Foundation

public struct PrepareOptions: Sendable {
    /// Target tokens per training block.
    public var blockSize = 2048
    /// Longest text, in tokens of the tokenizer that counts the most (the reference's 2000).
    public var maxTextTokens = 2000
    /// Texts per chunk file: the unit of resumption.
    public var textsPerChunk = 4096
    /// Prepare only the first N documents of the corpus.
    public var limitDocuments: Int?

    public init() {}
}

public struct PrepareProgress: Sendable {
    /// Documents passed so far (skipped on resume included) and read by this run.
    public var documents: Int
    public var documentsThisRun: Int
    public var texts: Int
    public var tokensThisRun: Int
    public var chunksWritten: Int
    /// Chunks found complete and kept when the run started.
    public var resumedChunks: Int
}

/// `fusellm prepare`: streams a corpus, cuts long documents (`PreparedTextCutter`), tokenizes every text with
/// the target tokenizer and writes chunk files, then the block index and `prepared.json` (layout in
/// docs/prepare-and-dump.md).
///
/// Resumable and deterministic: chunks hold a fixed number of texts and are written whole under a temporary
/// name; a run that finds some chunks keeps the full ones, redoes a short last one, and continues from the
/// document (and piece) after the last kept text, so the output is byte-identical to an uninterrupted run.
public final class PreparedCorpusWriter {
    public let corpus: Corpus
    public let target: BPETokenizer
    public let also: [BPETokenizer]
    public let options: PrepareOptions
    public let output: URL
    public let settings: PreparedManifest.Settings
    private let cutter: PreparedTextCutter

    /// Documents cut in parallel at a time (bounded by count and bytes so memory stays small).
    static let batchDocuments = 256
    static let batchBytes = 8 << 20

    /// `targetSource` / `alsoSources`: the paths the user gave, recorded in prepared.json.
    public init(corpus: Corpus, target: BPETokenizer, targetSource: String, also: [(BPETokenizer, String)],
                options: PrepareOptions, output: URL) throws {
        guard options.blockSize > 0, options.maxTextTokens > 0, options.textsPerChunk > 0 else {
            throw FusionError("block size, max text tokens and texts per chunk must be positive")
        }
        if let limit = options.limitDocuments, limit <= 0 { throw FusionError("the document limit must be positive") }
        guard let eos = target.eosTokenID else {
            throw FormatError(file: targetSource, item: "tokenizer", "has no EOS token; every document ends with EOS")
        }
        self.corpus = corpus
        self.target = target
        self.also = also.map(\.0)
        self.options = options
        self.output = output
        cutter = PreparedTextCutter(target: target, also: also.map(\.0), maxTextTokens: options.maxTextTokens, eos: eos)
        func record(_ t: BPETokenizer, _ source: String) -> PreparedManifest.Tokenizer {
            .init(source: source, fingerprint: t.fingerprint, vocabSize: t.vocabSize, eosId: t.eosTokenID.map(Int.init))
        }
        let files = try corpus.files.map { f -> PreparedManifest.CorpusFile in
            let attributes = try? FileManager.default.attributesOfItem(atPath: f.path)
            guard let size = (attributes?[.size] as? NSNumber)?.intValue else {
                throw FormatError(file: f.path, "cannot read the corpus file's size")
            }
            return .init(path: f.path, format: f.format.rawValue, bytes: size)
        }
        settings = .init(target: record(target, targetSource), alsoTokenizers: also.map { record($0.0, $0.1) },
                         blockSize: options.blockSize, maxTextTokens: options.maxTextTokens,
                         textsPerChunk: options.textsPerChunk, tokenBytes: target.vocabSize <= 1 << 16 ? 2 : 4,
                         textField: corpus.textField, domainField: corpus.domainField,
                         limitDocuments: options.limitDocuments, corpus: files)
    }

    private var manifestURL: URL { output.appendingPathComponent(PreparedManifest.fileName) }
    private func chunkURL(_ c: Int) -> URL { output.appendingPathComponent(PreparedManifest.chunkFileName(c)) }

    /// Prepares (or finishes preparing) the corpus; returns the complete manifest.
    @discardableResult
    public func run(progress: ((PrepareProgress) -> Void)? = nil) throws -> PreparedManifest {
        let directoryLock = try DirectoryLock(output, mode: .exclusive, purpose: "fusellm prepare")  // one writer at a time
        defer { withExtendedLifetime(directoryLock) {} }
        if let done = try startOrResume() { return done }
        let kept = try keptChunks()
        let (documents, written) = try writeChunks(after: kept, progress: progress)
        return try finish(chunks: kept + written, documents: documents)
    }

    /// Checks or writes the settings; returns the manifest when the directory already holds the finished job.
    private func startOrResume() throws -> PreparedManifest? {
        let fm = FileManager.default
        do { try fm.createDirectory(at: output, withIntermediateDirectories: true) } catch {
            throw FormatError(url: output, "cannot create the output directory (\(FormatError.reason(error)))")
        }
        if fm.fileExists(atPath: manifestURL.path) {
            let existing = try PreparedManifest.read(manifestURL)
            if let change = settings.firstDifference(from: existing.settings) {
                throw FormatError(url: manifestURL, "holds a corpus prepared with other settings (\(change)); use another --output or remove the directory")
            }
            if existing.complete { return existing }
        } else {
            let visible = ((try? fm.contentsOfDirectory(atPath: output.path)) ?? []).filter { !$0.hasPrefix(".") }
            guard visible.isEmpty else {
                throw FormatError(url: output, "is not empty and holds no \(PreparedManifest.fileName); choose an empty or new directory")
            }
            try PreparedManifest(settings: settings).write(to: manifestURL)
        }
        // Temporary files of a killed run are never complete: remove them.
        for name in (try? fm.contentsOfDirectory(atPath: output.path)) ?? [] where name.hasPrefix(".") && name.contains(".tmp-") {
            try? fm.removeItem(at: output.appendingPathComponent(name))
        }
        return nil
    }

    /// The full chunks a previous run left (0..<n with no gap); later or short ones are removed and redone.
    private func keptChunks() throws -> Int {
        let fm = FileManager.default
        var n = 0
        while fm.fileExists(atPath: chunkURL(n).path) { n += 1 }
        for name in (try? fm.contentsOfDirectory(atPath: output.path)) ?? [] where name.hasPrefix("texts-") && name.hasSuffix(".bin") {
            if let c = Int(name.dropFirst(6).dropLast(4)), c >= n { try fm.removeItem(at: output.appendingPathComponent(name)) }
        }
        if n > 0, try PreparedTextChunk.Reader(url: chunkURL(n - 1)).count < options.textsPerChunk {
            try fm.removeItem(at: chunkURL(n - 1))
            n -= 1
        }
        return n
    }

    /// Streams the documents after those already in `kept` chunks and writes the remaining chunks.
    /// Returns the number of documents passed in all (the corpus size, after the limit) and chunks written.
    private func writeChunks(after kept: Int, progress: ((PrepareProgress) -> Void)?) throws -> (documents: Int, written: Int) {
        var startDocument = 0, skipPieces = 0
        if kept > 0 {
            let last = try PreparedTextChunk.Reader(url: chunkURL(kept - 1))
            let r = last.record(last.count - 1)
            (startDocument, skipPieces) = r.endsDocument ? (r.document + 1, 0) : (r.document, r.piece + 1)
        }
        let fileIndex = Dictionary(corpus.files.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { a, _ in a })
        let limit = options.limitDocuments ?? Int.max
        let stream = try corpus.documents()
        var document = 0
        while document < min(startDocument, limit), try stream.next() != nil { document += 1 }

        var chunk = kept
        var pending: [PreparedText] = []
        pending.reserveCapacity(options.textsPerChunk)
        var report = PrepareProgress(documents: document, documentsThisRun: 0, texts: kept * options.textsPerChunk,
                                     tokensThisRun: 0, chunksWritten: 0, resumedChunks: kept)
        func flush() throws {
            try AtomicFile.write(PreparedTextChunk.encode(pending, tokenBytes: settings.tokenBytes), to: chunkURL(chunk))
            chunk += 1
            report.chunksWritten += 1
            pending.removeAll(keepingCapacity: true)
        }
        while true {
            var batch: [(number: Int, document: Document)] = []
            var bytes = 0
            while batch.count < Self.batchDocuments, bytes < Self.batchBytes, document < limit, let d = try stream.next() {
                batch.append((document, d))
                document += 1
                bytes += d.text.utf8.count
            }
            if batch.isEmpty { break }
            let pieces = cutInParallel(batch.map(\.document.text))
            for (j, (number, d)) in batch.enumerated() where !d.text.isEmpty {
                guard let file = fileIndex[d.source] else {
                    throw FormatError(file: d.source, "document \(number) comes from a file that is not in the corpus list")
                }
                for (p, piece) in pieces[j].enumerated() where number != startDocument || p >= skipPieces {
                    pending.append(PreparedText(text: piece.text, targetTokens: piece.targetTokens, document: number,
                                                piece: p, endsDocument: piece.endsDocument, domain: d.domain,
                                                sourceFile: file, sourceRow: d.index))
                    report.texts += 1
                    report.tokensThisRun += piece.targetTokens.count
                    if pending.count == options.textsPerChunk { try flush() }
                }
            }
            report.documents = document
            report.documentsThisRun += batch.count
            progress?(report)
        }
        if !pending.isEmpty {
            try flush()
            progress?(report)
        }
        return (document, chunk - kept)
    }

    /// Cuts documents on all cores; worker w takes documents w, w + workers, … (interleaved, since lengths vary).
    private func cutInParallel(_ texts: [String]) -> [[PreparedTextCutter.Piece]] {
        var out = [[PreparedTextCutter.Piece]](repeating: [], count: texts.count)
        let workers = min(Parallel.threads, texts.count)
        out.withUnsafeMutableBufferPointer { results in
            let results = results
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for j in stride(from: w, to: texts.count, by: workers) where !texts[j].isEmpty {
                    results[j] = cutter.cut(texts[j])
                }
            }
        }
        return out
    }

    /// Reads back every chunk: checksums, counts, domains, the texts' fingerprint; writes the block index and
    /// the complete manifest.
    private func finish(chunks: Int, documents: Int) throws -> PreparedManifest {
        var manifest = PreparedManifest(settings: settings)
        var hasher = SHA256()
        var tokenCounts: [Int] = []
        var withText = 0, split = 0
        var domains: [String: PreparedManifest.Domain] = [:]
        var widened: [UInt32] = []
        for c in 0..<chunks {
            let reader = try PreparedTextChunk.Reader(url: chunkURL(c))
            guard reader.tokenBytes == settings.tokenBytes else {
                throw FormatError(url: reader.url, item: "header", "token width \(reader.tokenBytes), expected \(settings.tokenBytes)")
            }
            for i in 0..<reader.count {
                let r = reader.record(i)
                let tokens = reader.tokens(i)
                widened.removeAll(keepingCapacity: true)
                widened.append(UInt32(tokens.count).littleEndian)
                for t in tokens { widened.append(UInt32(bitPattern: t).littleEndian) }
                widened.withUnsafeBytes { hasher.update(bufferPointer: $0) }
                tokenCounts.append(tokens.count)
                if r.piece == 0 { withText += 1 }
                if r.piece == 1 { split += 1 }
                if r.hasDomain {
                    let name = try reader.domain(i) ?? ""
                    var d = domains[name] ?? .init(name: name, documents: 0, texts: 0, tokens: 0)
                    d.documents += r.piece == 0 ? 1 : 0
                    d.texts += 1
                    d.tokens += tokens.count
                    domains[name] = d
                }
            }
            manifest.chunks.append(.init(file: reader.url.lastPathComponent, texts: reader.count, tokens: reader.tokenCount,
                                         bytes: reader.data.count, sha256: Checksum.sha256(reader.data)))
        }
        let index = PreparedIndex.encode(tokenCounts: tokenCounts, blockSize: settings.blockSize)
        let indexURL = output.appendingPathComponent(PreparedManifest.indexFileName)
        try AtomicFile.write(index, to: indexURL)
        let tokens = tokenCounts.reduce(0, +)
        let blocks = tokens / settings.blockSize
        manifest.index = .init(file: indexURL.lastPathComponent, bytes: index.count, sha256: Checksum.sha256(index))
        manifest.counts = .init(documents: documents, emptyDocuments: documents - withText, splitDocuments: split,
                                texts: tokenCounts.count, tokens: tokens, blocks: blocks,
                                droppedTailTokens: tokens - blocks * settings.blockSize)
        manifest.domains = domains.values.sorted { $0.name < $1.name }
        manifest.blocksFingerprint = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        manifest.complete = true
        try manifest.write(to: manifestURL)
        return manifest
    }
}
