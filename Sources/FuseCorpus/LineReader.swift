import FuseFormats
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream into lines ('\n', with a trailing '\r' removed) in a fixed buffer that
/// grows only for a line longer than it, up to `maxLineBytes`.
final class LineReader {
    private let source: ByteSource
    private let path: String
    private let maxLineBytes: Int
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var ended = false
    /// 1-based number of the line last returned.
    private(set) var lineNumber = 0
    /// Largest buffer held so far (the memory bound the tests check).
    private(set) var peakBufferBytes = 0

    init(source: ByteSource, path: String, chunkBytes: Int = 1 << 20, maxLineBytes: Int) {
        self.source = source
        self.path = path
        self.maxLineBytes = maxLineBytes
        buffer = [UInt8](repeating: 0, count: max(16, chunkBytes))
        peakBufferBytes = buffer.count
    }

    /// Calls `body` with the next line's bytes (valid only during the call); nil at the end.
    func nextLine<T>(_ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        var scanFrom = start
        while true {
            if let nl = findNewline(from: scanFrom) {
                var lineEnd = nl
                if lineEnd > start && buffer[lineEnd - 1] == 13 { lineEnd -= 1 }
                let lineStart = start
                if lineEnd - lineStart > maxLineBytes { throw tooLong() }
                lineNumber += 1
                start = nl + 1
                return try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[lineStart..<lineEnd])) }
            }
            if ended {
                guard start < end else { return nil }
                var lineEnd = end
                if buffer[lineEnd - 1] == 13 { lineEnd -= 1 }
                let lineStart = start
                if lineEnd - lineStart > maxLineBytes { throw tooLong() }
                lineNumber += 1
                start = end
                return try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[lineStart..<lineEnd])) }
            }
            // Everything before `end` has been scanned; `fill` may move the pending bytes to the front.
            let scanned = end
            let moved = try fill()
            scanFrom = scanned - moved
        }
    }

    private func findNewline(from: Int) -> Int? {
        guard from < end else { return nil }
        return buffer.withUnsafeBytes { raw -> Int? in
            let base = raw.baseAddress!
            guard let p = memchr(base + from, 10, end - from) else { return nil }
            return base.distance(to: UnsafeRawPointer(p))
        }
    }

    /// Reads more bytes; returns how far the pending bytes were moved towards the front.
    private func fill() throws -> Int {
        var movedBy = 0
        if start > 0 {
            let pending = end - start
            if pending > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    let base = raw.baseAddress!
                    memmove(base, base + start, pending)
                }
            }
            movedBy = start
            start = 0
            end = pending
        }
        if end > maxLineBytes { throw tooLong() }
        if end == buffer.count {
            let grown = max(buffer.count + 1, min(buffer.count * 2, maxLineBytes + 2))
            buffer.append(contentsOf: repeatElement(0, count: grown - buffer.count))
            peakBufferBytes = max(peakBufferBytes, buffer.count)
        }
        let n = try buffer.withUnsafeMutableBytes { raw in
            try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
        }
        if n == 0 { ended = true } else { end += n }
        return movedBy
    }

    private func tooLong() -> FormatError {
        FormatError(file: path, item: "line \(lineNumber + 1)",
                    "line longer than \(maxLineBytes) bytes (the limit for one document)")
    }
}
