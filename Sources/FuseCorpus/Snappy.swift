/// Snappy's raw format (no framing), as parquet's SNAPPY codec stores pages: a varint with the
/// uncompressed length, then literals and back-references. Every length and offset is checked,
/// so corrupt data gives an error, never a read or write out of bounds.
enum Snappy {
    struct Failure: Error { let message: String }

    /// The length the data says it decompresses to (nil when the preamble is malformed).
    static func uncompressedLength(_ input: UnsafeRawBufferPointer) -> Int? {
        var pos = 0
        return try? readPreamble(input, &pos)
    }

    private static func readPreamble(_ input: UnsafeRawBufferPointer, _ pos: inout Int) throws -> Int {
        var result = 0
        var shift = 0
        while true {
            guard pos < input.count else { throw Failure(message: "truncated length preamble") }
            let b = input[pos]
            pos += 1
            result |= Int(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
            guard shift <= 28 else { throw Failure(message: "length preamble longer than 5 bytes") }
        }
        guard result <= Int(UInt32.max) else { throw Failure(message: "length preamble too large") }
        return result
    }

    /// Copies 16 bytes with two unaligned 8-byte moves (callers check both ends have room).
    @inline(__always)
    private static func copy16(_ from: UnsafeRawPointer, _ to: UnsafeMutableRawPointer) {
        to.storeBytes(of: from.loadUnaligned(as: UInt64.self), as: UInt64.self)
        (to + 8).storeBytes(of: (from + 8).loadUnaligned(as: UInt64.self), as: UInt64.self)
    }

    /// Decompresses `input` into `output`, whose size must be the uncompressed length exactly.
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        var ip = 0
        let expected = try readPreamble(input, &ip)
        guard expected == output.count else {
            throw Failure(message: "data says \(expected) bytes uncompressed, page header says \(output.count)")
        }
        let n = input.count
        guard let src = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            if expected == 0 { return }
            throw Failure(message: "no data")
        }
        guard let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            guard ip == n else { throw Failure(message: "data past the end of an empty output") }
            return
        }
        let capacity = output.count
        var op = 0
        while ip < n {
            let tag = src[ip]
            ip += 1
            if tag & 3 == 0 {  // literal
                var length = Int(tag >> 2)
                if length >= 60 {
                    let extra = length - 59
                    guard n - ip >= extra else { throw Failure(message: "truncated literal length at byte \(ip)") }
                    length = 0
                    for k in 0..<extra { length |= Int(src[ip + k]) << (8 * k) }
                    ip += extra
                }
                length += 1
                guard n - ip >= length else { throw Failure(message: "literal runs past the end of the data at byte \(ip)") }
                guard capacity - op >= length else { throw Failure(message: "literal runs past the uncompressed length") }
                if length <= 16 && n - ip >= 16 && capacity - op >= 16 {
                    copy16(UnsafeRawPointer(src + ip), UnsafeMutableRawPointer(out + op))
                } else {
                    (out + op).update(from: src + ip, count: length)
                }
                ip += length
                op += length
                continue
            }
            let length: Int
            let offset: Int
            switch tag & 3 {
            case 1:
                guard ip < n else { throw Failure(message: "truncated copy at byte \(ip)") }
                length = 4 + Int((tag >> 2) & 7)
                offset = Int(tag >> 5) << 8 | Int(src[ip])
                ip += 1
            case 2:
                guard n - ip >= 2 else { throw Failure(message: "truncated copy at byte \(ip)") }
                length = 1 + Int(tag >> 2)
                offset = Int(src[ip]) | Int(src[ip + 1]) << 8
                ip += 2
            default:
                guard n - ip >= 4 else { throw Failure(message: "truncated copy at byte \(ip)") }
                length = 1 + Int(tag >> 2)
                offset = Int(src[ip]) | Int(src[ip + 1]) << 8 | Int(src[ip + 2]) << 16 | Int(src[ip + 3]) << 24
                ip += 4
            }
            guard offset > 0 && offset <= op else {
                throw Failure(message: "copy offset \(offset) outside the \(op) bytes written so far")
            }
            guard capacity - op >= length else { throw Failure(message: "copy runs past the uncompressed length") }
            if offset >= 8 && length <= 16 && capacity - op >= 16 {
                // Source at least 8 back: the second move may read what the first wrote, which is
                // exactly an overlapping copy's meaning. Bytes past `length` are rewritten later.
                copy16(UnsafeRawPointer(out + op - offset), UnsafeMutableRawPointer(out + op))
            } else if offset >= length {
                (out + op).update(from: out + op - offset, count: length)
            } else {
                // Overlapping: the last `offset` bytes repeat. Copy from the pattern's start in
                // chunks that double; each chunk's source ends where its destination begins.
                var done = 0
                while done < length {
                    let chunk = min(done + offset, length - done)
                    (out + op + done).update(from: out + op - offset, count: chunk)
                    done += chunk
                }
            }
            op += length
        }
        guard op == expected else { throw Failure(message: "data ends after \(op) of \(expected) bytes") }
    }
}
