import Foundation

/// Logs of JSON objects, one per line (metrics.jsonl, ablation.jsonl): sorted keys, so lines diff and compare.
public enum JSONLines {
    public static func line(_ record: [String: Any]) throws -> Data {
        var data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        data.append(0x0A)
        return data
    }

    /// Appends one record to `url`, creating the file on first use.
    public static func append(_ record: [String: Any], to url: URL) throws {
        let data = try line(record)
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw FormatError(url: url, "cannot create the log (directory missing or not writable)")
            }
        }
        do {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
        } catch {
            throw FormatError(url: url, "cannot append to the log (\(FormatError.reason(error)))")
        }
    }
}
