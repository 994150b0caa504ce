import FuseFormats
import Foundation

/// Training metrics as JSON lines, one object per logged step.
public final class MetricsLog {
    public let url: URL
    private var handle: FileHandle?

    /// Opens (creating) the log. When resuming from `resumeStep`, lines of later steps (written
    /// by the interrupted run after its last checkpoint) are dropped so every step appears once.
    public init(url: URL, resumeStep: Int?) throws {
        self.url = url
        let fm = FileManager.default
        if let resumeStep, let data = fm.contents(atPath: url.path) {
            let kept = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
                guard let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                      let step = (obj["step"] as? NSNumber)?.intValue else { return false }
                return step <= resumeStep
            }
            try AtomicFile.write(Data((kept.map { $0 + "\n" }.joined()).utf8), to: url)
        } else if resumeStep == nil || !fm.fileExists(atPath: url.path) {
            try AtomicFile.write(Data(), to: url)
        }
        do {
            handle = try FileHandle(forWritingTo: url)
            try handle?.seekToEnd()
        } catch {
            throw FormatError(url: url, "cannot open metrics log for writing")
        }
    }

    public func append(_ record: [String: Any]) throws {
        let data = try JSONLines.line(record)
        do { try handle?.write(contentsOf: data) } catch {
            throw FormatError(url: url, "cannot append metrics (\(error.localizedDescription))")
        }
    }

    deinit { try? handle?.close() }
}
