import Foundation

/// One clear error about an input or output file: which file, which item in it, what is wrong.
public struct FormatError: Error, CustomStringConvertible, LocalizedError {
    public let file: String
    public let item: String?
    public let problem: String

    public init(file: String, item: String? = nil, _ problem: String) {
        self.file = file
        self.item = item
        self.problem = problem
    }

    public init(url: URL, item: String? = nil, _ problem: String) {
        self.init(file: url.path, item: item, problem)
    }

    public var description: String {
        if let item { return "\(file): \(item): \(problem)" }
        return "\(file): \(problem)"
    }

    public var errorDescription: String? { description }

    /// The operating-system reason behind a Foundation file error ("No such file or directory", …).
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}
