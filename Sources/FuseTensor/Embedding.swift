import Foundation

/// Token embedding lookup and its gradient scatter.
public enum Embedding {
    public static func forward(ids: UnsafePointer<Int32>, table: UnsafePointer<Float>,
                               out: UnsafeMutablePointer<Float>, rows: Int, dim: Int) {
        Parallel.chunks(rows, minPerChunk: 64) { _, range in
            for r in range { (out + r * dim).update(from: table + Int(ids[r]) * dim, count: dim) }
        }
    }

    /// dTable[id] += dOut[row]. Serial: rows sharing a token would race.
    public static func backward(ids: UnsafePointer<Int32>, dOut: UnsafePointer<Float>,
                                dTable: UnsafeMutablePointer<Float>, rows: Int, dim: Int) {
        for r in 0..<rows {
            let dst = dTable + Int(ids[r]) * dim, src = dOut + r * dim
            for j in 0..<dim { dst[j] += src[j] }
        }
    }
}
