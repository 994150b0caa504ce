import Foundation

/// A model's linear layers in its `Precision`: fp32 goes straight to OpenBLAS; bf16 multiplies by packed bf16
/// copies of the weights, made on first use and remade after `parametersChanged()` (once per optimizer step, not
/// per product). Weights are identified by their address in the model's parameter buffer.
public final class MatrixProducts {
    public let precision: Precision
    /// Forward packs hold Wᵀ (x·Wᵀ), backward packs W (dy·W); each with the parameter version it was made from.
    private var forwardPacks: [Int: (panels: BF16Panels, version: Int)] = [:]
    private var backwardPacks: [Int: (panels: BF16Panels, version: Int)] = [:]
    private var version = 0

    public init(precision: Precision = .fp32) {
        self.precision = precision
    }

    /// Products in `precision`: this object when it already is, else a new one (packs belong to one precision).
    public func with(_ precision: Precision) -> MatrixProducts {
        precision == self.precision ? self : MatrixProducts(precision: precision)
    }

    /// The parameters were updated (an optimizer step, a load): the packed copies are remade on next use.
    public func parametersChanged() { version += 1 }

    /// y[rows×out] = x[rows×in] · Wᵀ (+ y when `accumulate`), W stored [out×in] as nn.Linear's weight.
    public func linear(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                       rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false) {
        linears(x: x, rows: rows, inFeatures: inFeatures, [LinearLayer(w: w, y: y, outFeatures: outFeatures)],
                accumulate: accumulate)
    }

    /// Several linear layers of one input (q, k, v; gate, up): in bf16 the input is packed once for all of them.
    public func linears(x: UnsafePointer<Float>, rows: Int, inFeatures: Int, _ layers: [LinearLayer],
                        accumulate: Bool = false) {
        guard precision == .bf16 else {
            for l in layers {
                BLAS.linear(x: x, w: l.w, y: l.y, rows: rows, inFeatures: inFeatures, outFeatures: l.outFeatures,
                            accumulate: accumulate)
            }
            return
        }
        let start = BLAS.profiling ? DispatchTime.now().uptimeNanoseconds : 0
        let packedX = BF16GEMM.packA(transA: false, m: rows, k: inFeatures, a: x, lda: inFeatures)
        defer { ScratchPanels.give(packedX) }
        for l in layers {
            BF16GEMM.gemm(m: rows, n: l.outFeatures, a: packedX,
                          b: forwardPack(l.w, outFeatures: l.outFeatures, inFeatures: inFeatures),
                          beta: accumulate ? 1 : 0, c: l.y, ldc: l.outFeatures)
        }
        if BLAS.profiling {
            BLAS.record(since: start, flops: 2 * Double(rows * inFeatures * layers.reduce(0) { $0 + $1.outFeatures }))
        }
    }

    /// Backward of `linears`: dW_i += dy_iᵀ·x for each layer, and dx = Σ_i dy_i·W_i (+ dx when `accumulateInput`;
    /// x packed once in bf16).
    public func linearsBackward(x: UnsafePointer<Float>, rows: Int, inFeatures: Int, dx: UnsafeMutablePointer<Float>,
                                _ layers: [LinearLayer], accumulateInput: Bool = false) {
        guard precision == .bf16 else {
            for (i, l) in layers.enumerated() {
                BLAS.linearBackward(dy: l.y, x: x, w: l.w, dx: dx, dw: l.dw!, rows: rows, inFeatures: inFeatures,
                                    outFeatures: l.outFeatures, accumulateInput: accumulateInput || i > 0)
            }
            return
        }
        let start = BLAS.profiling ? DispatchTime.now().uptimeNanoseconds : 0
        let packedX = BF16GEMM.packB(transB: false, n: inFeatures, k: rows, b: x, ldb: inFeatures)
        defer { ScratchPanels.give(packedX) }
        for (i, l) in layers.enumerated() {
            let dyᵀ = BF16GEMM.packA(transA: true, m: l.outFeatures, k: rows, a: l.y, lda: l.outFeatures)
            BF16GEMM.gemm(m: l.outFeatures, n: inFeatures, a: dyᵀ, b: packedX, beta: 1, c: l.dw!, ldc: inFeatures)
            ScratchPanels.give(dyᵀ)
            let dy = BF16GEMM.packA(transA: false, m: rows, k: l.outFeatures, a: l.y, lda: l.outFeatures)
            BF16GEMM.gemm(m: rows, n: inFeatures, a: dy, b: backwardPack(l.w, outFeatures: l.outFeatures, inFeatures: inFeatures),
                          beta: accumulateInput || i > 0 ? 1 : 0, c: dx, ldc: inFeatures)
            ScratchPanels.give(dy)
        }
        if BLAS.profiling {
            BLAS.record(since: start, flops: 4 * Double(rows * inFeatures * layers.reduce(0) { $0 + $1.outFeatures }))
        }
    }

    /// What `linearTile`'s `first` must be a multiple of: 1 in fp32, a whole column panel of the packed W in bf16.
    public var tileColumnMultiple: Int { precision == .bf16 ? BF16GEMM.columnsPerPanel : 1 }

    /// y[rows×count] = x · W[first..<first+count]ᵀ: a tile of the output rows of W (the vocabulary tiles of an
    /// LM head), W having `outFeatures` rows in all; `first` a multiple of `tileColumnMultiple`.
    public func linearTile(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                           rows: Int, inFeatures: Int, outFeatures: Int, first: Int, count: Int) {
        switch precision {
        case .fp32:
            BLAS.gemm(transA: false, transB: true, m: rows, n: count, k: inFeatures, a: x, lda: inFeatures,
                      b: w + first * inFeatures, ldb: inFeatures, c: y, ldc: count)
        case .bf16:
            BF16GEMM.gemm(transA: false, m: rows, n: count, a: x, lda: inFeatures,
                          b: forwardPack(w, outFeatures: outFeatures, inFeatures: inFeatures), firstColumn: first,
                          c: y, ldc: count)
        }
    }

    /// Backward of `linear`: dW += dyᵀ·x, and dx = dy·W (or += when `accumulateInput`).
    public func linearBackward(dy: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                               dx: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>,
                               rows: Int, inFeatures: Int, outFeatures: Int, accumulateInput: Bool = false) {
        linearsBackward(x: x, rows: rows, inFeatures: inFeatures, dx: dx,
                        [LinearLayer(w: w, y: dy, dw: dw, outFeatures: outFeatures)], accumulateInput: accumulateInput)
    }

    /// Wᵀ as operand B: column o of B is row o of W.
    private func forwardPack(_ w: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int) -> BF16Panels {
        current(&forwardPacks, w, columns: outFeatures, depth: inFeatures, rowStride: inFeatures, depthStride: 1)
    }

    /// W as operand B ([out×in]: depth out, columns in).
    private func backwardPack(_ w: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int) -> BF16Panels {
        current(&backwardPacks, w, columns: inFeatures, depth: outFeatures, rowStride: 1, depthStride: inFeatures)
    }

    /// The pack of `w` made from the current parameters, repacked in place when stale.
    private func current(_ packs: inout [Int: (panels: BF16Panels, version: Int)], _ w: UnsafePointer<Float>,
                         columns: Int, depth: Int, rowStride: Int, depthStride: Int) -> BF16Panels {
        let key = Int(bitPattern: w)
        let panels: BF16Panels
        if let pack = packs[key], pack.panels.rows == columns, pack.panels.depth == depth {
            if pack.version == version { return pack.panels }
            panels = pack.panels
        } else {
            panels = BF16GEMM.panelsForB(columns: columns, depth: depth)
        }
        panels.pack(from: w, rowStride: rowStride, depthStride: depthStride)
        packs[key] = (panels, version)
        return panels
    }
}

/// One linear layer of a `MatrixProducts.linears` group: its weight [outFeatures × in], its output y (the incoming
/// gradient dy in the backward), and where the backward adds its weight gradient.
public struct LinearLayer {
    public let w: UnsafePointer<Float>
    public let y: UnsafeMutablePointer<Float>
    public let dw: UnsafeMutablePointer<Float>?
    public let outFeatures: Int

    public init(w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>? = nil,
                outFeatures: Int) {
        self.w = w
        self.y = y
        self.dw = dw
        self.outFeatures = outFeatures
    }
}
