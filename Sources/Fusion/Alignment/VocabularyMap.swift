import Foundation

/// How source tokens find their target tokens.
public enum VocabularyMethod: String, Sendable, CaseIterable {
    /// Exact match of normalised strings only; other source ids stay unmapped.
    case exact = "em"
    /// Exact match, else the target token at minimum edit distance (ties: lowest target id).
    case minED = "mined"
    /// Exact match, else FuseChat-2's mapping statistics: the target token DTW co-aligned it with over the corpus at
    /// the smallest count-weighted edit distance (`MappingStatisticsChoice`); built per corpus.
    case mappingStatistics = "ms"

    /// Accepts "em", "EM", "mined", "minED", "MinED", "ms", "mapping-statistics".
    public init?(name: String) {
        switch name.lowercased() {
        case "em", "exact": self = .exact
        case "mined", "min-ed", "min_ed": self = .minED
        case "ms", "mapping-statistics", "mapping_statistics": self = .mappingStatistics
        default: return nil
        }
    }

    /// Whether the map depends on a corpus (its co-alignment counts), not only on the two vocabularies.
    public var needsCorpus: Bool { self == .mappingStatistics }

    /// The names a user can give, for error messages.
    public static let choices = "mined, em or ms"
}

/// For every source id, the target id its probability mass goes to (-1: none), and how it was found.
public struct VocabularyMap: Equatable, Sendable {
    public static let unmapped: Int32 = -1

    public let method: VocabularyMethod
    public let sourceFingerprint: String
    public let targetFingerprint: String
    /// The corpus whose co-alignment counts chose the inexact entries (`ms`); empty for maps of the vocabularies alone.
    public let corpusFingerprint: String
    /// Number of ids in the target vocabulary (ids in `targetIDs` are below it).
    public let targetCount: Int
    /// [source vocabulary size]; -1 = no target token.
    public let targetIDs: [Int32]
    /// [source vocabulary size]: 0 exact match (special tokens matched by role or content included), > 0 the edit
    /// distance to the inexact target token chosen (by MinED or mapping statistics), -1 unmapped.
    public let distances: [Int32]

    public init(method: VocabularyMethod, sourceFingerprint: String, targetFingerprint: String, corpusFingerprint: String = "",
                targetCount: Int, targetIDs: [Int32], distances: [Int32]) {
        precondition(targetIDs.count == distances.count)
        self.method = method
        self.sourceFingerprint = sourceFingerprint
        self.targetFingerprint = targetFingerprint
        self.corpusFingerprint = corpusFingerprint
        self.targetCount = targetCount
        self.targetIDs = targetIDs
        self.distances = distances
    }

    /// The map of a tokenizer onto itself: every id to itself.
    public static func identity(count: Int, fingerprint: String, method: VocabularyMethod) -> VocabularyMap {
        VocabularyMap(method: method, sourceFingerprint: fingerprint, targetFingerprint: fingerprint, targetCount: count,
                      targetIDs: (0..<count).map { Int32($0) }, distances: [Int32](repeating: 0, count: count))
    }

    public var sourceCount: Int { targetIDs.count }
    public var isIdentity: Bool {
        sourceFingerprint == targetFingerprint && targetIDs.enumerated().allSatisfy { Int32($0.offset) == $0.element }
    }

    @inline(__always)
    public func target(of sourceID: Int32) -> Int32 {
        sourceID >= 0 && Int(sourceID) < targetIDs.count ? targetIDs[Int(sourceID)] : Self.unmapped
    }

    public var exactCount: Int { distances.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }
    /// Source ids mapped to a target token with other units (by MinED or by mapping statistics).
    public var inexactCount: Int { distances.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }
    public var unmappedCount: Int { distances.reduce(0) { $0 + ($1 < 0 ? 1 : 0) } }
}
