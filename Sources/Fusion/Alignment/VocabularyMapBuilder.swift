import FuseTensor
import Foundation

extension VocabularyMap {
    /// Maps every source id onto the target vocabulary (rules in docs/alignment.md):
    /// - same tokenizer (equal fingerprints and sizes): the identity;
    /// - special source tokens: BOS → target BOS, EOS → target EOS, else a target special token with the same
    ///   content, else unmapped (they have no text to compare);
    /// - other source tokens: a target regular or byte token with the same normalised units (several: regular
    ///   before byte-fallback piece, then the lowest id); failing that, MinED takes the regular or byte target
    ///   token at minimum edit distance (ties: lowest id), MS the co-aligned one at the smallest count-weighted
    ///   distance (`MappingStatisticsChoice`; never co-aligned: unmapped) and EM leaves the id unmapped.
    ///
    /// `statistics` (the corpus's co-alignment counts) is required by MS and ignored by the others.
    public static func build(source: NormalizedVocabulary, target: NormalizedVocabulary,
                             method: VocabularyMethod, statistics: MappingStatistics? = nil) -> VocabularyMap {
        precondition(!method.needsCorpus || statistics != nil, "the \(method.rawValue) map needs the corpus's statistics")
        if source.fingerprint == target.fingerprint && source.count == target.count {
            return .identity(count: source.count, fingerprint: source.fingerprint, method: method)
        }
        var ids = [Int32](repeating: unmapped, count: source.count)
        var distances = [Int32](repeating: -1, count: source.count)

        var textual: [[UInt32]: Int32] = [:]     // regular + byte target tokens by units
        var special: [[UInt32]: Int32] = [:]
        textual.reserveCapacity(target.count)
        for id in 0..<Int32(target.count) {
            let key = Array(target.units(of: id))
            switch target.kind(of: id) {
            case .regular:
                if let old = textual[key], target.kind(of: old) == .regular { continue }
                textual[key] = id                  // a regular token displaces a byte piece
            case .byte:
                if textual[key] == nil { textual[key] = id }
            case .special:
                if special[key] == nil { special[key] = id }
            case .unused:
                break
            }
        }

        var pending: [Int32] = []               // source ids left for MinED
        for id in 0..<Int32(source.count) {
            let key = Array(source.units(of: id))
            switch source.kind(of: id) {
            case .unused:
                continue
            case .special:
                var match: Int32?
                if id == source.eosTokenID { match = target.eosTokenID }
                if match == nil, id == source.bosTokenID { match = target.bosTokenID }
                if match == nil { match = special[key] }
                if let match {
                    ids[Int(id)] = match
                    distances[Int(id)] = 0
                }
            case .regular, .byte:
                if let match = textual[key] {
                    ids[Int(id)] = match
                    distances[Int(id)] = 0
                } else {
                    pending.append(id)
                }
            }
        }
        switch method {
        case .minED where !pending.isEmpty:
            MinEDSearch(source: source, target: target).run(pending, ids: &ids, distances: &distances)
        case .mappingStatistics where !pending.isEmpty:
            MappingStatisticsChoice(source: source, target: target).run(pending, statistics: statistics!, ids: &ids,
                                                                         distances: &distances)
        default:
            break
        }
        return VocabularyMap(method: method, sourceFingerprint: source.fingerprint, targetFingerprint: target.fingerprint,
                             corpusFingerprint: method.needsCorpus ? statistics!.corpusFingerprint : "",
                             targetCount: target.count, targetIDs: ids, distances: distances)
    }
}

/// The minimum-edit-distance search over the target's regular and byte tokens. Candidates are grouped by length
/// and visited outwards from the source token's length; |len(a) − len(b)| ≤ ED(a, b) stops the search once the
/// length gap exceeds the best distance found, and each distance computation stops early once it cannot win.
struct MinEDSearch {
    private let sourceCodes: CodedVocabulary
    private let targetCodes: CodedVocabulary
    private let alphabetSize: Int
    /// Candidate target ids sorted by (length, id); those of length L are candidates[bucketStart[L]..<bucketStart[L+1]].
    private let candidates: [Int32]
    private let bucketStart: [Int]
    /// Per candidate, the set of its units hashed into 64 bits (bit = code mod 64).
    private let signatures: [UInt64]

    init(source: NormalizedVocabulary, target: NormalizedVocabulary) {
        var alphabet = UnitAlphabet()
        targetCodes = CodedVocabulary(target, alphabet: &alphabet, dropSpaces: false)
        sourceCodes = CodedVocabulary(source, alphabet: &alphabet, dropSpaces: false)
        alphabetSize = alphabet.size
        var maxLength = 0
        var eligible: [Int32] = []
        for id in 0..<target.count where target.kinds[id] == .regular || target.kinds[id] == .byte {
            eligible.append(Int32(id))
            maxLength = max(maxLength, targetCodes.length(id))
        }
        var counts = [Int](repeating: 0, count: maxLength + 2)
        for id in eligible { counts[targetCodes.length(Int(id)) + 1] += 1 }
        for l in 1..<counts.count { counts[l] += counts[l - 1] }
        bucketStart = counts
        var fill = counts
        var sorted = [Int32](repeating: 0, count: eligible.count)
        for id in eligible {                      // ascending ids stay ascending inside each bucket
            let l = targetCodes.length(Int(id))
            sorted[fill[l]] = id
            fill[l] += 1
        }
        candidates = sorted
        let coded = targetCodes
        signatures = sorted.map { id in coded.withCodes(Int(id)) { Self.signature($0) } }
    }

    @inline(__always)
    static func signature(_ codes: UnsafeBufferPointer<UInt32>) -> UInt64 {
        var s: UInt64 = 0
        for c in codes { s |= 1 << UInt64(c & 63) }
        return s
    }

    /// The target tables as pointers, valid inside `withView`'s body.
    struct View {
        let codes: UnsafeBufferPointer<UInt32>
        let offsets: UnsafeBufferPointer<Int32>
        let candidates: UnsafeBufferPointer<Int32>
        let signatures: UnsafeBufferPointer<UInt64>
    }

    func withView<R>(_ body: (View) -> R) -> R {
        targetCodes.codes.withUnsafeBufferPointer { codes in
            targetCodes.offsets.withUnsafeBufferPointer { offsets in
                candidates.withUnsafeBufferPointer { cands in
                    signatures.withUnsafeBufferPointer { sigs in
                        body(View(codes: codes, offsets: offsets, candidates: cands, signatures: sigs))
                    }
                }
            }
        }
    }

    /// Fills ids/distances of the `pending` source ids, spread over `Parallel.threads` workers taking batches.
    func run(_ pending: [Int32], ids: inout [Int32], distances: inout [Int32]) {
        guard !candidates.isEmpty else { return }
        let batch = 32
        let lock = NSLock()
        var next = 0
        let workers = max(1, min(Parallel.threads, (pending.count + batch - 1) / batch))
        ids.withUnsafeMutableBufferPointer { idOut in
            distances.withUnsafeMutableBufferPointer { distanceOut in
                DispatchQueue.concurrentPerform(iterations: workers) { _ in
                    let matcher = EditDistanceMatcher(alphabetSize: alphabetSize)
                    while true {
                        lock.lock()
                        let start = next
                        next += batch
                        lock.unlock()
                        if start >= pending.count { break }
                        for i in start..<min(start + batch, pending.count) {
                            let id = Int(pending[i])
                            let (best, d) = withView { nearest(sourceID: id, matcher: matcher, view: $0) }
                            idOut[id] = best
                            distanceOut[id] = Int32(d)
                        }
                    }
                }
            }
        }
    }

    /// The target id at minimum distance from source `sourceID` (lowest id among equals) and the distance.
    func nearest(sourceID: Int, matcher: EditDistanceMatcher, view: View) -> (Int32, Int) {
        let length = sourceCodes.length(sourceID)
        sourceCodes.withCodes(sourceID) { matcher.setPattern($0) }
        let patternSignature = sourceCodes.withCodes(sourceID) { Self.signature($0) }
        var bestD = Int.max, bestID = Int32.max
        let maxLength = bucketStart.count - 2
        let (codes, offsets, cands, sigs) = (view.codes, view.offsets, view.candidates, view.signatures)
        var gap = 0
        while gap <= bestD && (length - gap >= 0 || length + gap <= maxLength) {
            for side in 0..<(gap == 0 ? 1 : 2) {
                let l = side == 0 ? length - gap : length + gap
                guard l >= 0 && l <= maxLength else { continue }
                for c in bucketStart[l]..<bucketStart[l + 1] {
                    let id = cands[c]
                    // No candidate has the source's units (exact matches never get here), so ED ≥ max(1, gap):
                    // once that reaches bestD a candidate can at best tie, which only a lower id wins.
                    if max(1, gap) >= bestD && id > bestID { break }
                    let limit = id < bestID ? bestD : bestD - 1
                    // Units one side has and the other lacks each cost an edit; hashed into 64 bits this
                    // undercounts, so it stays a lower bound, for two popcounts (it spares ~90% of the DPs).
                    let sig = sigs[c]
                    if max((sig & ~patternSignature).nonzeroBitCount, (patternSignature & ~sig).nonzeroBitCount) > limit {
                        continue
                    }
                    let text = UnsafeBufferPointer(rebasing: codes[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])])
                    let d = matcher.distance(text, limit: limit)
                    if d <= limit {
                        bestD = d
                        bestID = id
                    }
                }
            }
            gap += 1
        }
        return (bestID, bestD)
    }
}
