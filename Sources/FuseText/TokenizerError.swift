/// A tokenizer file that cannot be used, with the file and the field at fault:
/// `tokenizer.json: model.type: Unigram is not supported (only BPE)`.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    /// The file (as given, or its last path component), or the source ("GGUF metadata").
    public let file: String
    /// The field, as a path into the file ("model.merges[12]", "ModelProto.pieces").
    public let field: String
    public let message: String

    public init(file: String, field: String, message: String) {
        self.file = file
        self.field = field
        self.message = message
    }

    public var description: String {
        field.isEmpty ? "\(file): \(message)" : "\(file): \(field): \(message)"
    }
}
