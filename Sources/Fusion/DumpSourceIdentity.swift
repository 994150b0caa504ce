import Crypto
import FuseFormats
import Foundation

/// How a dump names its source model: the file or directory name plus a SHA-256 of the weights, so that parts
/// made on different machines (different paths to the same files) agree, and a changed model does not.
public enum DumpSourceIdentity {
    /// "NAME sha256:HEX16" for a GGUF file or an HF directory (config.json and its *.safetensors).
    public static func describe(path: String) throws -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        return "\(url.lastPathComponent) sha256:\(try weightsFingerprint(url).prefix(16))"
    }

    public static func weightsFingerprint(_ url: URL) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw FormatError(url: url, "no such file or directory")
        }
        var files = [url]
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            files = names.filter { $0 == "config.json" || $0.hasSuffix(".safetensors") }.sorted()
                .map { url.appendingPathComponent($0) }
        }
        var hasher = SHA256()
        for f in files {
            let data: Data
            do { data = try Data(contentsOf: f, options: .alwaysMapped) } catch {
                throw FormatError(url: f, "cannot read (\(FormatError.reason(error)))")
            }
            hasher.update(data: Data(f.lastPathComponent.utf8))
            hasher.update(data: data)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
