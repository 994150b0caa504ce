import Foundation

/// A small, fast, seedable generator (SplitMix64) so initialisation and data order are the same
/// on every machine, and its state can be saved in a checkpoint.
public struct SeededRandom: RandomNumberGenerator, Codable, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    public mutating func nextUnitInterval() -> Double {
        Double((next() >> 11) + 1) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Fills with N(0, std²) values (Box–Muller).
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count: Int, std: Float) {
        var i = 0
        while i < count {
            let u1 = nextUnitInterval(), u2 = nextUnitInterval()
            let r = (-2 * log(u1)).squareRoot()
            p[i] = Float(r * cos(2 * .pi * u2)) * std
            if i + 1 < count { p[i + 1] = Float(r * sin(2 * .pi * u2)) * std }
            i += 2
        }
    }
}
