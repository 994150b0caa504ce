import Foundation

/// A one-line progress report with rate and ETA, redrawn in place on a terminal and printed as
/// plain lines otherwise (CI logs, pipes).
public struct ProgressLine {
    public let total: Int
    public let unit: String
    private let start = Date()
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastPrint = Date.distantPast

    public init(total: Int, unit: String) {
        self.total = total
        self.unit = unit
    }

    public static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--:--" }
        let s = Int(seconds.rounded())
        return String(format: "%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }

    /// `done` items of `total` finished, `doneThisRun` of them since this process started.
    public mutating func update(done: Int, doneThisRun: Int, rateValue: Double, rateUnit: String, detail: String, force: Bool = false) {
        let now = Date()
        guard force || done == total || now.timeIntervalSince(lastPrint) >= (interactive ? 0.2 : 10) else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let perItem = doneThisRun > 0 ? elapsed / Double(doneThisRun) : .nan
        let eta = perItem * Double(total - done)
        let line = String(format: "%@ %d/%d | %@ | %.0f %@ | elapsed %@ | ETA %@", unit, done, total, detail,
                          rateValue, rateUnit, Self.clock(elapsed), Self.clock(eta))
        FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line : line + "\n").utf8))
        if interactive && done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
