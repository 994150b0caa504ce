import Foundation

/// A fixed-size, 64-byte aligned Float32 buffer. The model keeps parameters, gradients,
/// optimizer moments and activations in these so hot loops work on raw pointers.
public final class FloatBuffer {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(count: Int, zeroed: Bool = true) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count, zeroed: false)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public func copy(from other: FloatBuffer) {
        precondition(other.count == count)
        pointer.update(from: other.pointer, count: count)
    }
}

/// Numerical summaries used by tests, clipping and metrics. Sums run in Double so the
/// result does not depend on the length of the buffer.
public enum Reduce {
    public static func sumOfSquares(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var acc = 0.0
        var i = 0
        // Four partial sums keep the loop vectorisable and the result deterministic.
        var a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
        while i + 4 <= n {
            let x0 = Double(p[i]), x1 = Double(p[i + 1]), x2 = Double(p[i + 2]), x3 = Double(p[i + 3])
            a0 += x0 * x0; a1 += x1 * x1; a2 += x2 * x2; a3 += x3 * x3
            i += 4
        }
        while i < n { let x = Double(p[i]); acc += x * x; i += 1 }
        return acc + a0 + a1 + a2 + a3
    }

    /// True when every value is finite.
    public static func allFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Bool {
        for i in 0..<n where !p[i].isFinite { return false }
        return true
    }

    /// max |a - b| over the two buffers.
    public static func maxAbsDiff(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var m: Float = 0
        for i in 0..<n { m = max(m, abs(a[i] - b[i])) }
        return m
    }
}
