#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuseFormats
import Foundation

/// Turns the paths a user gives (files, directories, glob patterns) into corpus files, in a
/// deterministic order: arguments in the order given; within a directory or a pattern, by path.
enum CorpusPaths {
    static func expand(_ paths: [String]) throws -> [CorpusFile] {
        var files: [CorpusFile] = []
        for path in paths {
            if isPattern(path) {
                let matches = try glob(path)
                var found: [CorpusFile] = []
                for match in matches {
                    if isDirectory(match) {
                        found += try directory(match)
                    } else if let format = CorpusFormat(fileName: match) {
                        found.append(CorpusFile(path: match, format: format))
                    }
                }
                guard !found.isEmpty else {
                    throw FormatError(file: path, "no corpus files match this pattern (known extensions: \(CorpusFormat.extensionsDescription))")
                }
                files += found
            } else if isDirectory(path) {
                let found = try directory(path)
                guard !found.isEmpty else {
                    throw FormatError(file: path, "directory holds no corpus files (known extensions: \(CorpusFormat.extensionsDescription))")
                }
                files += found
            } else {
                guard FileManager.default.fileExists(atPath: path) else {
                    throw FormatError(file: path, "no such file or directory")
                }
                guard let format = CorpusFormat(fileName: path) else {
                    throw FormatError(file: path, "unknown corpus file type (known extensions: \(CorpusFormat.extensionsDescription))")
                }
                files.append(CorpusFile(path: path, format: format))
            }
        }
        return files
    }

    static func isPattern(_ path: String) -> Bool {
        path.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Matches of a glob pattern, sorted by path (byte order).
    static func glob(_ pattern: String) throws -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        let status = systemGlob(pattern, 0, nil, &g)
        if status == GLOB_NOMATCH { return [] }
        guard status == 0 else { throw FormatError(file: pattern, "cannot expand the pattern (glob error \(status))") }
        var out: [String] = []
        for k in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[k] { out.append(String(cString: p)) }
        }
        return out.sorted(by: byteOrder)
    }

    /// Corpus files under a directory, recursively, skipping hidden names, sorted by path.
    static func directory(_ path: String) throws -> [CorpusFile] {
        let root = URL(fileURLWithPath: path)
        guard let walker = FileManager.default.enumerator(
            at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]) else {
            throw FormatError(file: path, "cannot list the directory")
        }
        let base = path.hasSuffix("/") ? String(path.dropLast()) : path
        let rootComponents = root.standardizedFileURL.pathComponents.count
        var found: [(String, CorpusFormat)] = []
        for case let url as URL in walker {
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey])
            guard values?.isRegularFile == true, let format = CorpusFormat(fileName: url.lastPathComponent) else { continue }
            // Keep the user's spelling of the directory and append the relative part.
            let relative = url.standardizedFileURL.pathComponents.dropFirst(rootComponents).joined(separator: "/")
            found.append((base + "/" + relative, format))
        }
        return found.sorted { byteOrder($0.0, $1.0) }.map { CorpusFile(path: $0.0, format: $0.1) }
    }

    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
}

#if canImport(Glibc)
private let systemGlob = Glibc.glob
#else
private let systemGlob = Darwin.glob
#endif
