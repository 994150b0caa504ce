import Foundation

/// Plain SVG line and bar charts: enough for ablation plots that open in any browser and diff as text.
public enum SVGChart {
    public struct Series {
        public let name: String
        public let points: [(Double, Double)]
        public init(name: String, points: [(Double, Double)]) {
            self.name = name
            self.points = points
        }
    }

    public struct BarPanel {
        public let title: String
        /// (label, value, error bar half-height).
        public let bars: [(String, Double, Double)]
        public init(title: String, bars: [(String, Double, Double)]) {
            self.title = title
            self.bars = bars
        }
    }

    /// Colour-blind-friendly palette (Okabe–Ito, then Tableau), cycled.
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
                          "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#FF9896"]

    static func color(_ i: Int) -> String { palette[i % palette.count] }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func number(_ x: Double) -> String { String(format: "%.2f", x) }

    /// Trailing moving average (the first points average what there is so far).
    public static func movingAverage(_ values: [Double], window: Int) -> [Double] {
        var out: [Double] = [], sum = 0.0
        for (i, v) in values.enumerated() {
            sum += v
            if i >= window { sum -= values[i - window] }
            out.append(sum / Double(min(i + 1, window)))
        }
        return out
    }

    /// About five round tick values covering [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var t = ceil(lo / step) * step, out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(t); t += step }
        return out
    }

    static func tickLabel(_ x: Double) -> String {
        abs(x) >= 100 || x == x.rounded() ? String(format: "%.0f", x) : abs(x) >= 10 ? String(format: "%.1f", x) : String(format: "%.2f", x)
    }

    static func document(width: Int, height: Int, _ body: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
        font-family="sans-serif" font-size="12">
        <rect width="\(width)" height="\(height)" fill="white"/>
        \(body)</svg>

        """
    }

    public struct LineChart {
        public let title: String, yLabel: String
        public let series: [Series]
        public init(title: String, yLabel: String, series: [Series]) {
            self.title = title
            self.yLabel = yLabel
            self.series = series
        }
    }

    /// A line per series with axes, ticks and a legend on the right.
    public static func lines(_ series: [Series], title: String, xLabel: String, yLabel: String) -> String {
        lines([LineChart(title: title, yLabel: yLabel, series: series)], xLabel: xLabel)
    }

    /// Line charts stacked top to bottom over the same x quantity (series keep their colour across charts).
    public static func lines(_ charts: [LineChart], xLabel: String) -> String {
        let width = 960, chartHeight = 560.0
        var body = ""
        var height = 0.0
        for (c, chart) in charts.enumerated() {
            let oy = Double(c) * chartHeight
            body += lineChartBody(chart, xLabel: xLabel, top: oy)
            height = max(height, oy + max(chartHeight, 70 + Double(chart.series.count) * 18))
        }
        return document(width: width, height: Int(height), body)
    }

    private static func lineChartBody(_ chart: LineChart, xLabel: String, top oy: Double) -> String {
        let left = 70.0, top = oy + 40, plotW = 600.0, plotH = 440.0
        let all = chart.series.flatMap(\.points)
        var body = "<text x=\"\(left)\" y=\"\(number(oy + 24))\" font-size=\"15\">\(escape(chart.title))\(all.isEmpty ? ": no data" : "")</text>\n"
        guard !all.isEmpty else { return body }
        let xs = all.map(\.0), ys = all.map(\.1)
        let (x0, x1) = (xs.min()!, max(xs.max()!, xs.min()! + 1))
        let pad = max((ys.max()! - ys.min()!) * 0.05, 1e-6)
        let (y0, y1) = (ys.min()! - pad, ys.max()! + pad)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * plotH }
        body += axes(left: left, top: top, width: plotW, height: plotH)
        for t in ticks(x0, x1) {
            body += "<text x=\"\(number(px(t)))\" y=\"\(number(top + plotH + 16))\" text-anchor=\"middle\">\(tickLabel(t))</text>\n"
        }
        body += yGrid(y0, y1, left: left, width: plotW, y: py)
        body += "<text x=\"\(left + plotW / 2)\" y=\"\(number(top + plotH + 36))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        body += "<text transform=\"translate(18 \(number(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(chart.yLabel))</text>\n"
        for (i, s) in chart.series.enumerated() where !s.points.isEmpty {
            let path = s.points.map { "\(number(px($0.0))),\(number(py($0.1)))" }.joined(separator: " ")
            body += "<polyline fill=\"none\" stroke=\"\(color(i))\" stroke-width=\"1.6\" points=\"\(path)\"><title>\(escape(s.name))</title></polyline>\n"
            let y = top + 10 + Double(i) * 18
            body += "<line x1=\"\(left + plotW + 20)\" x2=\"\(left + plotW + 44)\" y1=\"\(number(y))\" y2=\"\(number(y))\" stroke=\"\(color(i))\" stroke-width=\"3\"/>\n"
            body += "<text x=\"\(left + plotW + 50)\" y=\"\(number(y + 4))\">\(escape(s.name))</text>\n"
        }
        return body
    }

    /// Small multiples: one bar panel per entry, each with its own y range (zoomed on its bars), three per row,
    /// and one shared legend (bars keep their colour across panels).
    public static func barPanels(_ panels: [BarPanel], title: String) -> String {
        let columns = 3, panelW = 320.0, panelH = 220.0, gap = 30.0, left = 60.0, top = 50.0
        let labels = panels.flatMap { $0.bars.map(\.0) }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let rows = (panels.count + columns - 1) / columns
        let legendTop = top + Double(rows) * (panelH + gap + 30)
        let width = Int(left + Double(columns) * (panelW + gap + left))
        let height = Int(legendTop + Double((labels.count + 2) / 3) * 18 + 20)
        var body = "<text x=\"20\" y=\"26\" font-size=\"15\">\(escape(title))</text>\n"
        for (p, panel) in panels.enumerated() {
            let ox = left + Double(p % columns) * (panelW + gap + left), oy = top + Double(p / columns) * (panelH + gap + 30)
            body += "<text x=\"\(number(ox + panelW / 2))\" y=\"\(number(oy - 8))\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(panel.title))</text>\n"
            body += axes(left: ox, top: oy, width: panelW, height: panelH)
            guard !panel.bars.isEmpty else { continue }
            let lo = panel.bars.map { $0.1 - $0.2 }.min()!, hi = panel.bars.map { $0.1 + $0.2 }.max()!
            let pad = max((hi - lo) * 0.15, hi * 1e-3)
            let (y0, y1) = (max(0, lo - pad), hi + pad)
            func py(_ y: Double) -> Double { oy + (1 - (y - y0) / (y1 - y0)) * panelH }
            body += yGrid(y0, y1, left: ox, width: panelW, y: py, fontSize: 10)
            let slot = panelW / Double(panel.bars.count)
            for (b, bar) in panel.bars.enumerated() {
                let i = labels.firstIndex(of: bar.0)!
                let x = ox + Double(b) * slot + slot * 0.15, w = slot * 0.7
                body += "<rect x=\"\(number(x))\" y=\"\(number(py(bar.1)))\" width=\"\(number(w))\" height=\"\(number(oy + panelH - py(bar.1)))\" fill=\"\(color(i))\"><title>\(escape(bar.0)): \(String(format: "%.3f", bar.1))</title></rect>\n"
                if bar.2 > 0 {
                    let cx = number(x + w / 2)
                    body += "<line x1=\"\(cx)\" x2=\"\(cx)\" y1=\"\(number(py(bar.1 - bar.2)))\" y2=\"\(number(py(bar.1 + bar.2)))\" stroke=\"black\"/>\n"
                }
            }
        }
        for (i, label) in labels.enumerated() {
            let x = 20 + Double(i % 3) * 330, y = legendTop + Double(i / 3) * 18
            body += "<rect x=\"\(number(x))\" y=\"\(number(y - 10))\" width=\"12\" height=\"12\" fill=\"\(color(i))\"/>\n"
            body += "<text x=\"\(number(x + 18))\" y=\"\(number(y))\">\(escape(label))</text>\n"
        }
        return document(width: width, height: height, body)
    }

    /// Horizontal grid lines at round values of [lo, hi], labelled left of the axis.
    static func yGrid(_ lo: Double, _ hi: Double, left: Double, width: Double, y: (Double) -> Double, fontSize: Int = 12) -> String {
        ticks(lo, hi).map { t in
            "<line x1=\"\(number(left))\" x2=\"\(number(left + width))\" y1=\"\(number(y(t)))\" y2=\"\(number(y(t)))\" stroke=\"#e5e5e5\"/>\n"
                + "<text x=\"\(number(left - 6))\" y=\"\(number(y(t) + 4))\" text-anchor=\"end\" font-size=\"\(fontSize)\">\(tickLabel(t))</text>\n"
        }.joined()
    }

    static func axes(left: Double, top: Double, width: Double, height: Double) -> String {
        "<path d=\"M\(number(left)),\(number(top)) V\(number(top + height)) H\(number(left + width))\" fill=\"none\" stroke=\"black\"/>\n"
    }
}
