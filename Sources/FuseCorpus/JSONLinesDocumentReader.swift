import FuseFormats
import Foundation

/// JSON lines (optionally zstd-compressed, decompressed as a stream): one object per line, the
/// text under `options.textField`. Blank lines are passed over; `null` texts are counted and
/// skipped; other bad lines follow `options.invalidLines`. `Document.index` is the 1-based line number.
final class JSONLinesDocumentReader: DocumentReader {
    let path: String
    private let lines: LineReader
    private let key: [UInt8]
    private let field: String
    private let policy: InvalidLinePolicy
    /// `options.domainField` split at dots; empty: no domain is read.
    private let domainPath: [[UInt8]]

    init(path: String, compressed: Bool, options: ReaderOptions) throws {
        self.path = path
        let source: ByteSource = compressed
            ? try ZstdFileDecompressor(url: URL(fileURLWithPath: path))
            : try InputFile(path: path)
        lines = LineReader(source: source, path: path, maxLineBytes: options.maxDocumentBytes)
        key = Array(options.textField.utf8)
        field = options.textField
        policy = options.invalidLines
        domainPath = options.domainField.map { $0.split(separator: ".").map { Array($0.utf8) } } ?? []
    }

    /// Largest line buffer held so far.
    var peakBufferBytes: Int { lines.peakBufferBytes }

    private enum Outcome {
        case blank
        case text(String, domain: String?)
        case null
        case invalid(String)
    }

    func next(report: inout CorpusReport) throws -> Document? {
        while true {
            let key = self.key, field = self.field, domainPath = self.domainPath
            guard let outcome = try lines.nextLine({ line -> Outcome in
                if JSONLineParser.isBlank(line) { return .blank }
                do {
                    let (value, domain) = try JSONLineParser.fields(key, domainPath: domainPath, in: line)
                    switch value {
                    case .string(let s): return .text(s, domain: domain)
                    case .null: return .null
                    case .missing: return .invalid("no \"\(field)\" field")
                    case .other(let type): return .invalid("\"\(field)\" is a JSON \(type), not a string")
                    }
                } catch let e as JSONSyntaxError {
                    return .invalid("invalid JSON at column \(e.offset + 1): \(e.message)")
                }
            }) else { return nil }
            let lineNumber = lines.lineNumber
            switch outcome {
            case .blank: continue
            case .null: report.nullTexts += 1; continue
            case .text(let s, let domain): return Document(text: s, source: path, index: lineNumber, domain: domain)
            case .invalid(let why):
                let error = FormatError(file: path, item: "line \(lineNumber)", why)
                switch policy {
                case .stop: throw error
                case .skip: report.skipped(error.description)
                }
            }
        }
    }
}
