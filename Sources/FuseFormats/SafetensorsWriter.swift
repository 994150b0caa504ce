import Foundation

/// A Float32 tensor to be written, borrowed from memory the caller keeps alive.
public struct TensorToWrite {
    public let name: String
    public let shape: [Int]
    public let source: UnsafePointer<Float>

    public init(name: String, shape: [Int], source: UnsafePointer<Float>) {
        self.name = name
        self.shape = shape
        self.source = source
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

public enum SafetensorsWriter {
    /// Writes `tensors` converted to `dtype` as one safetensors file. The bytes go to a temporary
    /// name beside `url` and are renamed over it only when complete.
    public static func write(_ tensors: [TensorToWrite], dtype: DType = .F32,
                             metadata: [String: String] = ["format": "pt"], to url: URL) throws {
        precondition([.F32, .F16, .BF16].contains(dtype), "safetensors output is F32, F16 or BF16")
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for t in tensors {
            let bytes = t.elementCount * dtype.byteSize
            header[t.name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // The data section starts 8-byte aligned, padded with spaces as the reference writer does.
        while headerData.count % 8 != 0 { headerData.append(0x20) }
        var prefix = Data(count: 8)
        prefix.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(headerData.count).littleEndian, as: UInt64.self) }

        try AtomicFile.write(to: url) { handle in
            try handle.write(contentsOf: prefix)
            try handle.write(contentsOf: headerData)
            for t in tensors {
                // Large tensors go out in slices so a 16-bit copy never doubles the peak memory.
                let slice = 1 << 22
                var start = 0
                while start < t.elementCount {
                    let n = min(slice, t.elementCount - start)
                    try handle.write(contentsOf: HalfPrecision.encode(t.source + start, count: n, as: dtype))
                    start += n
                }
            }
        }
    }
}

/// Writes files under a temporary name and renames them into place when complete, so a reader
/// never sees half a file and an interrupted write leaves the old file intact.
public enum AtomicFile {
    public static func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    }

    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let tmp = temporaryURL(for: url)
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw FormatError(url: url, "cannot create file (directory missing or not writable)")
        }
        do {
            let handle = try FileHandle(forWritingTo: tmp)
            defer { try? handle.close() }
            try body(handle)
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            if let e = error as? FormatError { throw e }
            throw FormatError(url: url, "write failed (\(FormatError.reason(error)))")
        }
        try rename(tmp, to: url)
    }

    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }

    /// A hidden sibling of `url` that holds it while it is built or removed (".NAME.partial-PID",
    /// ".NAME.old.partial-PID"): a killed process leaves only names that `isLeftover` recognises.
    static func hiddenSibling(of url: URL, _ role: String) -> URL {
        url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(role)-\(ProcessInfo.processInfo.processIdentifier)")
    }

    /// A directory entry a killed `publishDirectory` or `removeDirectory` left behind.
    public static func isLeftover(_ name: String) -> Bool { name.hasPrefix(".") && name.contains(".partial") }

    /// Builds a directory with `fill` under a hidden sibling name, then renames it to `url` (an existing one is
    /// moved aside and removed), so a reader never sees a half-built directory under the final name.
    public static func publishDirectory(_ url: URL, what: String, _ fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let staging = hiddenSibling(of: url, "partial")
        try? fm.removeItem(at: staging)
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        } catch {
            throw FormatError(url: url, "cannot create \(what) (\(FormatError.reason(error)))")
        }
        do {
            try fill(staging)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
        if fm.fileExists(atPath: url.path) {
            let old = hiddenSibling(of: url, "old.partial")
            try rename(url, to: old)
            try rename(staging, to: url)
            try? fm.removeItem(at: old)
        } else {
            try rename(staging, to: url)
        }
    }

    /// Deletes a directory by renaming it to a hidden sibling first: deleting in place goes one file at a time,
    /// and a kill in between would leave a visible directory missing some of its files.
    public static func removeDirectory(_ url: URL) {
        let hidden = hiddenSibling(of: url, "old.partial")
        guard Foundation.rename(url.path, hidden.path) == 0 else { return }
        try? FileManager.default.removeItem(at: hidden)
    }

    /// rename(2): atomic replacement of a file, or of an empty/nonexistent directory.
    public static func rename(_ from: URL, to: URL) throws {
        if Foundation.rename(from.path, to.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: from)
            throw FormatError(url: to, "cannot move \(from.lastPathComponent) into place (\(reason))")
        }
    }
}
