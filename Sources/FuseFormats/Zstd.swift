import CZstd
import Foundation

/// Whole-buffer zstd compression (libzstd). Each call produces one independent frame.
public enum Zstd {
    /// `checksum` adds zstd's content checksum to the frame, so decompression detects corrupted data.
    public static func compress(_ input: Data, level: Int32 = 3, checksum: Bool = false) throws -> Data {
        let bound = ZSTD_compressBound(input.count)
        var out = Data(count: bound)
        guard let context = ZSTD_createCCtx() else { throw FormatError(file: "<zstd>", "out of memory") }
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0)
        let written = out.withUnsafeMutableBytes { dst in
            input.withUnsafeBytes { src in
                ZSTD_compress2(context, dst.baseAddress, bound, src.baseAddress, input.count)
            }
        }
        if ZSTD_isError(written) != 0 {
            throw FormatError(file: "<zstd>", "compression failed: \(String(cString: ZSTD_getErrorName(written)))")
        }
        out.count = written
        return out
    }

    /// Decompresses one or more frames. `source` names the data in error messages.
    public static func decompress(_ input: Data, source: String = "<zstd>") throws -> Data {
        guard let stream = ZSTD_createDStream() else { throw FormatError(file: source, "zstd: out of memory") }
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        var output = Data()
        let chunk = ZSTD_DStreamOutSize()
        var buffer = [UInt8](repeating: 0, count: chunk)
        var lastResult = 0
        try input.withUnsafeBytes { src in
            var inBuf = ZSTD_inBuffer(src: src.baseAddress, size: input.count, pos: 0)
            repeat {
                let produced: Int = try buffer.withUnsafeMutableBytes { dst in
                    var outBuf = ZSTD_outBuffer(dst: dst.baseAddress, size: chunk, pos: 0)
                    let r = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                    if ZSTD_isError(r) != 0 {
                        throw FormatError(file: source, "corrupt zstd data: \(String(cString: ZSTD_getErrorName(r)))")
                    }
                    lastResult = r
                    return outBuf.pos
                }
                output.append(contentsOf: buffer[0..<produced])
                if produced == 0 && inBuf.pos == inBuf.size { break }
            } while inBuf.pos < inBuf.size || lastResult != 0
        }
        if lastResult != 0 { throw FormatError(file: source, "truncated zstd frame") }
        return output
    }
}
