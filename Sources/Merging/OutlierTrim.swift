/// Model Breadcrumbs' sparsification (mergekit's `magnitude_outliers`): order the entries by magnitude, drop the
/// `gamma` fraction of largest ones (outliers) and as many of the smallest as leave the `density` fraction:
///
///     keep = ⌊density·n⌋, top = ⌊gamma·n⌋, bottom = n − keep − top (when negative, top shrinks by it and bottom = 0)
///
/// Ties are ordered by index (a stable sort); mergekit's torch.sort leaves their order unspecified. One
/// difference on purpose: with top = 0 (gamma·n < 1, e.g. tensors under 100 entries at the default 0.01) mergekit's
/// slice `indices[bottom:-0]` is empty and drops the whole task vector; here it keeps the `keep` largest, as the
/// method intends.
public enum OutlierTrim {
    public static func apply(_ values: UnsafeMutablePointer<Float>, count n: Int, density: Double, gamma: Double) {
        guard density < 1, n > 0 else { return }
        let keep = Int((density * Double(n)).rounded(.down))
        var top = Int((gamma * Double(n)).rounded(.down))
        var bottom = n - keep - top
        if bottom < 0 { top += bottom; bottom = 0 }
        // Ascending by magnitude, ties by index.
        let order = (0..<n).sorted { a, b in
            let (x, y) = (abs(values[a]), abs(values[b]))
            return x != y ? x < y : a < b
        }
        for (rank, i) in order.enumerated() where rank < bottom || rank >= n - top { values[i] = 0 }
    }
}
