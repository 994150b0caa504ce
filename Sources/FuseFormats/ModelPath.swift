import Foundation

/// What a user's model path points at: an HF checkpoint directory or a single GGUF file. Resolved here once, for
/// models and tokenizers alike, so every command says the same thing about a wrong path.
public enum ModelPath {
    case directory(URL)
    case gguf(URL)

    public static func resolve(_ path: String) throws -> ModelPath {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(url: url, "no such file or directory")
        }
        if isDirectory.boolValue { return .directory(url) }
        if url.pathExtension.lowercased() == "gguf" { return .gguf(url) }
        throw FormatError(url: url, "not a checkpoint directory or a .gguf file")
    }

    public var url: URL {
        switch self {
        case .directory(let u), .gguf(let u): return u
        }
    }
}
