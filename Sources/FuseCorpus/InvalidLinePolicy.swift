/// What to do with a JSON line that is not a valid document (not JSON, not an object, no text
/// field, or a text field that is not a string).
public enum InvalidLinePolicy: String, Sendable, CaseIterable {
    /// Throw a `FormatError` naming the file and line.
    case stop
    /// Skip the line, count it and keep its message in the stream's `report`.
    case skip
}
