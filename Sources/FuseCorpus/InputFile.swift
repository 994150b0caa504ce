#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuseFormats
import Foundation

/// A file opened for reading through its descriptor: sequential reads and positioned reads
/// (`pread`) that are checked against the file's size, so no offset from a corrupt header can
/// read past the end or ask for a buffer larger than the file.
final class InputFile: ByteSource {
    let path: String
    let size: Int
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            throw FormatError(file: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw FormatError(file: path, "cannot stat: \(reason)")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw FormatError(file: path, "is a directory")
        }
        self.fd = fd
        self.size = Int(st.st_size)
    }

    deinit { close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            let n = systemRead(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FormatError(file: path, "read failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads exactly `count` bytes at `offset`; `item` names what is read in the error when the
    /// range lies outside the file.
    func read(offset: Int, count: Int, item: String) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw FormatError(file: path, item: item,
                              "range \(offset)..<\(offset &+ count) lies outside the file (\(size) bytes)")
        }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { dst in
            var done = 0
            while done < count {
                let n = pread(fd, dst.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FormatError(file: path, item: item, "read failed: \(String(cString: strerror(errno)))")
                }
                if n == 0 { throw FormatError(file: path, item: item, "file shrank while reading") }
                done += n
            }
        }
        return out
    }
}

#if canImport(Glibc)
private let systemRead = Glibc.read
#else
private let systemRead = Darwin.read
#endif
