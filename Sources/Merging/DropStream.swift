import FuseTensor

/// DARE's random drop, reproducible anywhere: each (model, tensor) pair has its own SplitMix64 stream
/// (`SeededRandom`), seeded with `seed XOR fnv1a64("<model index>:<tensor name>")`, where the model index is
/// the model's position in the recipe's `models` list. One draw u ∈ (0, 1] per element in row-major order;
/// the element is kept when u ≤ density. Streams do not depend on the order tensors are merged in, and
/// scripts/make-merge-fixtures.py reimplements them to check the Swift side.
public enum DropStream {
    public static func generator(seed: UInt64, modelIndex: Int, tensor: String) -> SeededRandom {
        SeededRandom(seed: seed ^ fnv1a64("\(modelIndex):\(tensor)"))
    }

    /// Zeroes the dropped entries of `values`; returns how many were kept.
    @discardableResult
    public static func drop(_ values: UnsafeMutablePointer<Float>, count: Int, density: Double,
                            seed: UInt64, modelIndex: Int, tensor: String) -> Int {
        var rng = generator(seed: seed, modelIndex: modelIndex, tensor: tensor)
        var kept = 0
        for i in 0..<count {
            if rng.nextUnitInterval() <= density { kept += 1 } else { values[i] = 0 }
        }
        return kept
    }

    /// 64-bit FNV-1a of the UTF-8 bytes.
    public static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
