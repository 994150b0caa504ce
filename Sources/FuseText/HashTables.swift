import Foundation

/// A hash of a byte string, 8 bytes at a time (not cryptographic; for the tables below).
@inline(__always)
func hashBytes(_ p: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(p.count)
    var i = 0
    let n = p.count
    let base = UnsafeRawPointer(p.baseAddress)
    while i + 8 <= n {
        let chunk = base!.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ chunk) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        i += 8
    }
    if i < n {
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
    }
    return h &* 0xBF58_476D_1CE4_E5B9
}

/// Pair of ids → (rank, id of the merged token), open addressing. A later `set` of the same pair replaces the
/// earlier one (as collecting HF's merge list into a map does).
struct MergeTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var shift: UInt64
    private var mask: Int
    private(set) var count = 0

    static let empty = UInt64.max

    init(expected: Int) {
        var cap = 16
        while cap < expected * 2 { cap <<= 1 }
        keys = [UInt64](repeating: MergeTable.empty, count: cap)
        values = [UInt64](repeating: 0, count: cap)
        mask = cap - 1
        shift = UInt64(64 - cap.trailingZeroBitCount)
    }

    @inline(__always)
    private static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: a)) << 32) | UInt64(UInt32(bitPattern: b))
    }

    mutating func set(_ a: Int32, _ b: Int32, rank: Int32, newID: Int32) {
        if (count + 1) * 2 > keys.count { grow() }
        let k = MergeTable.key(a, b)
        var slot = Int((k &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            if keys[slot] == MergeTable.empty {
                keys[slot] = k
                values[slot] = (UInt64(UInt32(bitPattern: rank)) << 32) | UInt64(UInt32(bitPattern: newID))
                count += 1
                return
            }
            if keys[slot] == k {
                values[slot] = (UInt64(UInt32(bitPattern: rank)) << 32) | UInt64(UInt32(bitPattern: newID))
                return
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        let cap = keys.count * 2
        keys = [UInt64](repeating: MergeTable.empty, count: cap)
        values = [UInt64](repeating: 0, count: cap)
        mask = cap - 1
        shift = UInt64(64 - cap.trailingZeroBitCount)
        count = 0
        for (k, v) in zip(oldKeys, oldValues) where k != MergeTable.empty {
            set(Int32(bitPattern: UInt32(k >> 32)), Int32(bitPattern: UInt32(k & 0xFFFF_FFFF)),
                rank: Int32(bitPattern: UInt32(v >> 32)), newID: Int32(bitPattern: UInt32(v & 0xFFFF_FFFF)))
        }
    }

    /// `rank << 32 | newID`, or `MergeTable.empty` when the pair has no merge.
    @inline(__always)
    func lookup(_ a: Int32, _ b: Int32) -> UInt64 {
        let k = MergeTable.key(a, b)
        var slot = Int((k &* 0x9E37_79B9_7F4A_7C15) >> shift)
        return keys.withUnsafeBufferPointer { kp in
            while true {
                let found = kp[slot]
                if found == k { return values[slot] }
                if found == MergeTable.empty { return MergeTable.empty }
                slot = (slot + 1) & mask
            }
        }
    }

    /// All entries as (a, b, rank, newID), in rank order.
    func entries() -> [(Int32, Int32, Int32, Int32)] {
        var out: [(Int32, Int32, Int32, Int32)] = []
        out.reserveCapacity(count)
        for (k, v) in zip(keys, values) where k != MergeTable.empty {
            out.append((Int32(bitPattern: UInt32(k >> 32)), Int32(bitPattern: UInt32(k & 0xFFFF_FFFF)),
                        Int32(bitPattern: UInt32(v >> 32)), Int32(bitPattern: UInt32(v & 0xFFFF_FFFF))))
        }
        out.sort { $0.2 != $1.2 ? $0.2 < $1.2 : ($0.0, $0.1) < ($1.0, $1.1) }
        return out
    }
}

/// Byte string → Int32, open addressing over an arena (built once, read-only after).
struct ByteStringMap: Sendable {
    private var slots: [Int32]           // entry index, -1 empty
    private var hashes: [UInt64] = []
    private var starts: [Int] = []
    private var lengths: [Int32] = []
    private var values: [Int32] = []
    private var arena: [UInt8] = []
    private var mask: Int

    init(expected: Int) {
        var cap = 16
        while cap < expected * 2 { cap <<= 1 }
        slots = [Int32](repeating: -1, count: cap)
        mask = cap - 1
    }

    var count: Int { values.count }

    /// Inserts unless present (the first value stays).
    mutating func insert(_ key: [UInt8], _ value: Int32) {
        if (values.count + 1) * 2 > slots.count { grow() }
        let h = key.withUnsafeBufferPointer { hashBytes($0) }
        if key.withUnsafeBufferPointer({ find($0, hash: h) }) != nil { return }
        var slot = Int(truncatingIfNeeded: h) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(values.count)
        hashes.append(h)
        starts.append(arena.count)
        lengths.append(Int32(key.count))
        values.append(value)
        arena.append(contentsOf: key)
    }

    private mutating func grow() {
        let cap = slots.count * 2
        slots = [Int32](repeating: -1, count: cap)
        mask = cap - 1
        for (i, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(i)
        }
    }

    @inline(__always)
    func find(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int32? {
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[slot])
            if e < 0 { return nil }
            if hashes[e] == h, Int(lengths[e]) == key.count {
                let equal = arena.withUnsafeBufferPointer { a in
                    key.count == 0 || memcmp(a.baseAddress! + starts[e], key.baseAddress!, key.count) == 0
                }
                if equal { return values[e] }
            }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int32? { find(key, hash: hashBytes(key)) }
}

/// Word → ids, shared by all threads behind a lock; cleared when full. Only speeds encoding up: a word's ids do
/// not depend on the cache.
final class WordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Int32]
    private var hashes: [UInt64] = []
    private var keyStarts: [Int] = []
    private var keyLengths: [Int32] = []
    private var valueStarts: [Int] = []
    private var valueLengths: [Int32] = []
    private var keyArena: [UInt8] = []
    private var valueArena: [Int32] = []
    private let capacity: Int
    private let mask: Int
    static let maxWordBytes = 256

    init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        var cap = 16
        while cap < capacity * 2 { cap <<= 1 }
        slots = [Int32](repeating: -1, count: cap)
        mask = cap - 1
    }

    /// Appends the cached ids of `word` to `out` and returns true, or returns false.
    func lookup(_ word: UnsafeBufferPointer<UInt8>, hash h: UInt64, into out: inout [Int32]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[slot])
            if e < 0 { return false }
            if hashes[e] == h, Int(keyLengths[e]) == word.count {
                let equal = keyArena.withUnsafeBufferPointer { a in
                    memcmp(a.baseAddress! + keyStarts[e], word.baseAddress!, word.count) == 0
                }
                if equal {
                    let s = valueStarts[e]
                    out.append(contentsOf: valueArena[s..<(s + Int(valueLengths[e]))])
                    return true
                }
            }
            slot = (slot + 1) & mask
        }
    }

    func insert(_ word: UnsafeBufferPointer<UInt8>, hash h: UInt64, ids: ArraySlice<Int32>) {
        lock.lock()
        defer { lock.unlock() }
        if hashes.count >= capacity { clearLocked() }
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[slot])
            if e < 0 { break }
            if hashes[e] == h, Int(keyLengths[e]) == word.count,
               keyArena.withUnsafeBufferPointer({ memcmp($0.baseAddress! + keyStarts[e], word.baseAddress!, word.count) }) == 0 {
                return
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = Int32(hashes.count)
        hashes.append(h)
        keyStarts.append(keyArena.count)
        keyLengths.append(Int32(word.count))
        valueStarts.append(valueArena.count)
        valueLengths.append(Int32(ids.count))
        keyArena.append(contentsOf: word)
        valueArena.append(contentsOf: ids)
    }

    private func clearLocked() {
        for i in slots.indices { slots[i] = -1 }
        hashes.removeAll(keepingCapacity: true)
        keyStarts.removeAll(keepingCapacity: true)
        keyLengths.removeAll(keepingCapacity: true)
        valueStarts.removeAll(keepingCapacity: true)
        valueLengths.removeAll(keepingCapacity: true)
        keyArena.removeAll(keepingCapacity: true)
        valueArena.removeAll(keepingCapacity: true)
    }

    func clear() {
        lock.lock()
        clearLocked()
        lock.unlock()
    }
}
