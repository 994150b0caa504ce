/// llama.cpp's converter interleaves the rotary halves of each Q/K head of Llama-style models (`permute` in
/// convert_hf_to_gguf.py); HF's RoPE (`rotate_half`) wants them contiguous.
public enum GGUFRotaryRows {
    /// Undoes the interleaving in place: within each head, GGUF row 2i+j holds HF row j·(headDim/2)+i.
    public static func unpermute(_ w: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, columns: Int) {
        let half = headDim / 2
        let head = UnsafeMutablePointer<Float>.allocate(capacity: headDim * columns)
        defer { head.deallocate() }
        for h in 0..<heads {
            let base = w + h * headDim * columns
            head.update(from: base, count: headDim * columns)
            for i in 0..<half {
                for j in 0..<2 {
                    (base + (j * half + i) * columns).update(from: head + (2 * i + j) * columns, count: columns)
                }
            }
        }
    }
}
