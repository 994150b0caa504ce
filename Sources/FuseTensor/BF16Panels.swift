import CBF16

/// One operand of a bf16 product, packed for the AVX512-BF16 kernel (see CBF16.h): `rows` rows of `depth`
/// values (rows of A, or columns of B) in panels of `width` rows, as pairs of bf16 along the depth.
public final class BF16Panels {
    public private(set) var rows: Int
    public private(set) var depth: Int
    public let width: Int
    let storage: UnsafeMutablePointer<UInt32>
    let capacity: Int

    var pairs: Int { (depth + 1) / 2 }
    var panels: Int { (rows + width - 1) / width }

    /// 32-bit words of `rows` × `depth` values in panels of `width`: whole panels, whole pairs.
    static func words(rows: Int, depth: Int, width: Int) -> Int { (rows + width - 1) / width * width * ((depth + 1) / 2) }

    public init(rows: Int, depth: Int, width: Int) {
        self.rows = rows
        self.depth = depth
        self.width = width
        capacity = max(1, Self.words(rows: rows, depth: depth, width: width))
        storage = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
            .bindMemory(to: UInt32.self, capacity: capacity)
    }

    /// Takes a new shape that fits the storage (a reused scratch operand).
    func reshape(rows: Int, depth: Int) {
        precondition(Self.words(rows: rows, depth: depth, width: width) <= capacity)
        self.rows = rows
        self.depth = depth
    }

    deinit { UnsafeMutableRawPointer(storage).deallocate() }

    /// Converts the Float32 matrix whose element (r, j) — row r < rows, depth j < depth — lies at
    /// `source[r·rowStride + j·depthStride]`, panels split across cores.
    public func pack(from source: UnsafePointer<Float>, rowStride: Int, depthStride: Int, split: Bool = true) {
        let work = panels * pairs * width
        let parts = split && work >= 1 << 16 ? Parallel.chunkCount(panels) : 1
        if parts <= 1 {
            fuse_bf16_pack(source, rowStride, depthStride, Int32(rows), Int32(depth), Int32(width), 0, Int32(panels), storage)
            return
        }
        Parallel.chunks(panels) { _, range in
            fuse_bf16_pack(source, rowStride, depthStride, Int32(rows), Int32(depth), Int32(width),
                           Int32(range.lowerBound), Int32(range.upperBound), storage)
        }
    }

    /// The first word of panel `q`.
    func panel(_ q: Int) -> UnsafePointer<UInt32> { UnsafePointer(storage + q * pairs * width) }

    /// The bf16 value of element (r, j), as Float32 (tests).
    public func value(row r: Int, depth j: Int) -> Float {
        let word = storage[(r / width * pairs + j / 2) * width + r % width]
        let half = j % 2 == 0 ? word & 0xffff : word >> 16
        return Float(bitPattern: half << 16)
    }
}
