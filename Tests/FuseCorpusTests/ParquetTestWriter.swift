import Foundation

/// Thrift compact-protocol encoder for the test writer below.
struct ThriftWriter {
    var bytes: [UInt8] = []
    private var lastIds: [Int16] = [0]

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func zigzag(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    mutating func field(_ id: Int16, _ type: UInt8) {
        let delta = id - lastIds[lastIds.count - 1]
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type)
        } else {
            bytes.append(type)
            zigzag(Int64(id))
        }
        lastIds[lastIds.count - 1] = id
    }
    mutating func i32(_ id: Int16, _ v: Int32) { field(id, 5); zigzag(Int64(v)) }
    mutating func i64(_ id: Int16, _ v: Int64) { field(id, 6); zigzag(v) }
    mutating func binary(_ id: Int16, _ s: String) { field(id, 8); rawBinary(s) }
    mutating func rawBinary(_ s: String) { varint(UInt64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func listHeader(_ count: Int, _ type: UInt8) {
        if count < 15 { bytes.append(UInt8(count) << 4 | type) } else { bytes.append(0xF0 | type); varint(UInt64(count)) }
    }
    mutating func beginStruct(_ id: Int16? = nil) {
        if let id { field(id, 12) }
        lastIds.append(0)
    }
    mutating func endStruct() { bytes.append(0); lastIds.removeLast() }
}

/// A minimal parquet writer for tests that need files larger than the committed fixtures: one
/// BYTE_ARRAY column `text` (required, or optional with nulls), PLAIN values in uncompressed v1
/// data pages, several row groups. Streams to disk: it never holds more than one page.
final class ParquetTestWriter {
    private let handle: FileHandle
    private var offset = 0
    private let optional: Bool
    private let pageBytes: Int
    private let rowGroupRows: Int
    private var groups: [(rows: Int, start: Int, size: Int)] = []
    private var page: [UInt8] = []
    private var levels: [Bool] = []
    private var pageValues = 0
    private var groupRows = 0
    private var groupStart = 0
    private var totalRows = 0

    init(url: URL, optional: Bool = false, pageBytes: Int = 256 << 10, rowGroupRows: Int = 1000) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        handle = try FileHandle(forWritingTo: url)
        self.optional = optional
        self.pageBytes = pageBytes
        self.rowGroupRows = rowGroupRows
        write(Array("PAR1".utf8))
        groupStart = offset
    }

    private func write(_ bytes: [UInt8]) {
        handle.write(Data(bytes))
        offset += bytes.count
    }

    func append(_ text: String?) {
        levels.append(text != nil)
        if let text {
            let n = UInt32(text.utf8.count)
            page += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
            page += Array(text.utf8)
        }
        pageValues += 1
        groupRows += 1
        totalRows += 1
        if page.count >= pageBytes { flushPage() }
        if groupRows == rowGroupRows { flushGroup() }
    }

    private func flushPage() {
        guard pageValues > 0 else { return }
        var body: [UInt8] = []
        if optional {
            // Definition levels: bit-packed runs of 8 (bit width 1), padded.
            var runs: [UInt8] = []
            let groupsOf8 = (levels.count + 7) / 8
            var header = ThriftWriter()
            header.varint(UInt64(groupsOf8 << 1 | 1))
            runs += header.bytes
            for g in 0..<groupsOf8 {
                var b: UInt8 = 0
                for k in 0..<8 where g * 8 + k < levels.count && levels[g * 8 + k] { b |= 1 << UInt8(k) }
                runs.append(b)
            }
            let n = UInt32(runs.count)
            body += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + runs
        }
        body += page
        var h = ThriftWriter()
        h.beginStruct()
        h.i32(1, 0)
        h.i32(2, Int32(body.count))
        h.i32(3, Int32(body.count))
        h.beginStruct(5)
        h.i32(1, Int32(pageValues))
        h.i32(2, 0)
        h.i32(3, 3)
        h.i32(4, 3)
        h.endStruct()
        h.endStruct()
        write(h.bytes)
        write(body)
        page = []
        levels = []
        pageValues = 0
    }

    private func flushGroup() {
        flushPage()
        guard groupRows > 0 else { return }
        groups.append((groupRows, groupStart, offset - groupStart))
        groupRows = 0
        groupStart = offset
    }

    func close() throws {
        flushGroup()
        var m = ThriftWriter()
        m.beginStruct()
        m.i32(1, 1)
        m.field(2, 9)
        m.listHeader(2, 12)
        m.beginStruct(); m.binary(4, "schema"); m.i32(5, 1); m.endStruct()
        m.beginStruct(); m.i32(1, 6); m.i32(3, optional ? 1 : 0); m.binary(4, "text"); m.i32(6, 0); m.endStruct()
        m.i64(3, Int64(totalRows))
        m.field(4, 9)
        m.listHeader(groups.count, 12)
        for g in groups {
            m.beginStruct()
            m.field(1, 9)
            m.listHeader(1, 12)
            m.beginStruct()
            m.i64(2, Int64(g.start))
            m.beginStruct(3)
            m.i32(1, 6)
            m.field(2, 9); m.listHeader(2, 5); m.zigzag(0); m.zigzag(3)
            m.field(3, 9); m.listHeader(1, 8); m.rawBinary("text")
            m.i32(4, 0)
            m.i64(5, Int64(g.rows))
            m.i64(6, Int64(g.size))
            m.i64(7, Int64(g.size))
            m.i64(9, Int64(g.start))
            m.endStruct()
            m.endStruct()
            m.i64(2, Int64(g.size))
            m.i64(3, Int64(g.rows))
            m.endStruct()
        }
        m.binary(6, "fusellm ParquetTestWriter")
        m.endStruct()
        let n = UInt32(m.bytes.count)
        write(m.bytes + [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + Array("PAR1".utf8))
        try handle.close()
    }
}
