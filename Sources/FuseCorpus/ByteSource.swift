import FuseFormats
import Foundation

/// Something that hands out bytes in order: a file, or a decompressor over one.
/// `read(into:)` returns how many bytes it wrote, 0 only at the end.
protocol ByteSource: AnyObject {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ZstdFileDecompressor: ByteSource {}
