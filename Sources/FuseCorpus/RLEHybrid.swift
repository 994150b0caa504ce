/// Parquet's RLE / bit-packed hybrid encoding (definition levels, dictionary indices).
/// Decodes exactly `count` values of `bitWidth` bits; data that ends early is an error.
enum RLEHybrid {
    struct Failure: Error { let message: String }

    static func decode(_ data: UnsafeRawBufferPointer, bitWidth: Int, count: Int,
                       into out: inout [UInt32]) throws {
        guard bitWidth >= 0 && bitWidth <= 32 else { throw Failure(message: "bit width \(bitWidth) out of range") }
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(count)
        let n = data.count
        var pos = 0
        let valueBytes = (bitWidth + 7) / 8
        let mask: UInt64 = bitWidth == 32 ? 0xFFFF_FFFF : (UInt64(1) << UInt64(bitWidth)) - 1
        while out.count < count {
            // Run header: ULEB128.
            var header: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard pos < n else {
                    throw Failure(message: "data ends after \(out.count) of \(count) values")
                }
                let b = data[pos]
                pos += 1
                header |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { break }
                shift += 7
                guard shift <= 35 else { throw Failure(message: "run header longer than 5 bytes") }
            }
            let wanted = count - out.count
            if header & 1 == 0 {
                let runLength = Int(header >> 1)
                guard n - pos >= valueBytes else { throw Failure(message: "truncated run value") }
                var value: UInt64 = 0
                for k in 0..<valueBytes { value |= UInt64(data[pos + k]) << (8 * UInt64(k)) }
                pos += valueBytes
                guard value <= mask else { throw Failure(message: "run value \(value) wider than \(bitWidth) bits") }
                out.append(contentsOf: repeatElement(UInt32(value), count: min(runLength, wanted)))
            } else {
                let groups = Int(header >> 1)
                let values = groups * 8
                let runBytes = groups * bitWidth
                let available = min(runBytes, n - pos)
                let take = min(values, wanted)
                guard take * bitWidth <= available * 8 else {
                    throw Failure(message: "bit-packed run ends after \(available) bytes; \(take) values need more")
                }
                if bitWidth == 0 {
                    out.append(contentsOf: repeatElement(0, count: take))
                } else {
                    var bitPos = 0
                    for _ in 0..<take {
                        let byteIndex = pos + bitPos >> 3
                        let shiftIn = UInt64(bitPos & 7)
                        var word: UInt64 = 0
                        let need = min(8, n - byteIndex)
                        for k in 0..<need { word |= UInt64(data[byteIndex + k]) << (8 * UInt64(k)) }
                        out.append(UInt32((word >> shiftIn) & mask))
                        bitPos += bitWidth
                    }
                }
                pos += available
            }
        }
    }
}
