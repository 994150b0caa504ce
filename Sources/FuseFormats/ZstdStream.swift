import CZstd
import Foundation

/// Streaming zstd decompression of a file in constant memory (`ZSTD_decompressStream`).
///
/// Reads the compressed file in chunks of `ZSTD_DStreamInSize()` bytes and hands out decompressed
/// bytes through `read(into:)`, never more than the caller's buffer at a time, so a highly
/// compressed frame cannot make it allocate more than its fixed buffers. Several concatenated
/// frames are read as one stream. A file that ends inside a frame is reported as truncated.
public final class ZstdFileDecompressor {
    public let url: URL
    private let handle: FileHandle
    private let stream: OpaquePointer
    private var input: [UInt8]
    private var inputCount = 0
    private var inputPos = 0
    private var inputEnded = false
    /// 0 once the current frame is complete (also before the first frame).
    private var frameRemaining = 0
    private var sawInput = false
    /// Compressed bytes consumed so far (for progress and error messages).
    public private(set) var compressedBytesRead = 0

    public init(url: URL) throws {
        self.url = url
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw FormatError(url: url, "cannot open: \(FormatError.reason(error))")
        }
        guard let s = ZSTD_createDStream() else {
            try? handle.close()
            throw FormatError(url: url, "zstd: out of memory")
        }
        stream = s
        ZSTD_initDStream(stream)
        input = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
    }

    deinit {
        ZSTD_freeDStream(stream)
        try? handle.close()
    }

    private func refill() throws {
        let chunk: Data?
        do {
            chunk = try handle.read(upToCount: input.count)
        } catch {
            throw FormatError(url: url, "read failed: \(FormatError.reason(error))")
        }
        guard let chunk, !chunk.isEmpty else {
            inputEnded = true
            inputCount = 0
            inputPos = 0
            return
        }
        _ = input.withUnsafeMutableBytes { dst in chunk.copyBytes(to: dst) }
        inputCount = chunk.count
        inputPos = 0
        sawInput = true
        compressedBytesRead += chunk.count
    }

    /// Decompresses up to `buffer.count` bytes into `buffer`; returns how many were written,
    /// 0 only at the end of the data. Throws `FormatError` on corrupt or truncated data.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            if inputPos == inputCount && !inputEnded {
                try refill()
            }
            if inputPos == inputCount && inputEnded {
                if frameRemaining != 0 {
                    // The decoder may still hold buffered output: flush it with no new input.
                    var outBuf = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                    var inBuf = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
                    let r = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                    if ZSTD_isError(r) != 0 { throw corrupt(r) }
                    frameRemaining = r
                    if outBuf.pos > 0 { return outBuf.pos }
                    if r != 0 {
                        throw FormatError(url: url, item: "byte \(compressedBytesRead)",
                                          "truncated zstd frame (the file ends inside a frame)")
                    }
                }
                if !sawInput { throw FormatError(url: url, "empty file (no zstd frame)") }
                return 0
            }
            let produced: Int = try input.withUnsafeBytes { src in
                var inBuf = ZSTD_inBuffer(src: src.baseAddress, size: inputCount, pos: inputPos)
                var outBuf = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                let r = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                if ZSTD_isError(r) != 0 { throw corrupt(r) }
                if outBuf.pos == 0 && inBuf.pos == inputPos {
                    throw FormatError(url: url, "zstd decoder made no progress")
                }
                inputPos = inBuf.pos
                frameRemaining = r
                return outBuf.pos
            }
            if produced > 0 { return produced }
        }
    }

    private func corrupt(_ code: Int) -> FormatError {
        FormatError(url: url, item: "near compressed byte \(compressedBytesRead - inputCount + inputPos)",
                    "corrupt zstd data: \(String(cString: ZSTD_getErrorName(code)))")
    }
}

/// Decompresses whole zstd buffers of known size (parquet pages) with one reusable context.
/// The output buffer bounds the work: data that would decompress to more is an error, so a
/// corrupt header cannot make it allocate.
public final class ZstdBufferDecoder {
    private let context: OpaquePointer

    public init() throws {
        guard let c = ZSTD_createDCtx() else { throw FormatError(file: "<zstd>", "out of memory") }
        context = c
    }

    deinit { ZSTD_freeDCtx(context) }

    /// The content size the first frame's header declares, if it declares one.
    public static func declaredContentSize(_ input: UnsafeRawBufferPointer) -> UInt64? {
        guard let base = input.baseAddress else { return nil }
        let size = ZSTD_getFrameContentSize(base, input.count)
        if size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR { return nil }
        return size
    }

    /// Decompresses all frames of `input` into `output`; returns the bytes written.
    /// Throws a message (the caller names file and item) on corrupt data or when `output` is too small.
    public func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let src = input.baseAddress, input.count > 0 else {
            throw FormatError(file: "<zstd>", "empty zstd data")
        }
        // A zero-capacity output still needs a valid pointer.
        var dummy: UInt8 = 0
        let r = withUnsafeMutablePointer(to: &dummy) { d in
            ZSTD_decompressDCtx(context, output.baseAddress ?? UnsafeMutableRawPointer(d), output.count, src, input.count)
        }
        if ZSTD_isError(r) != 0 {
            throw FormatError(file: "<zstd>", "corrupt zstd data: \(String(cString: ZSTD_getErrorName(r)))")
        }
        return r
    }
}
