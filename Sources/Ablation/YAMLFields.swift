import FuseFormats
import Foundation
import Yams

/// Typed reads of values loaded by Yams, each failing with an error that names the file and the item.
struct YAMLFields {
    let source: String

    func fail(_ item: String?, _ problem: String) -> FormatError { FormatError(file: source, item: item, problem) }

    /// A mapping; with `allowed`, any other key is an error.
    func mapping(_ value: Any?, item: String?, allowed: [String]?) throws -> [String: Any] {
        guard let value else { throw fail(item, "missing") }
        guard let map = value as? [String: Any] else { throw fail(item, "expected a mapping of keys to values") }
        if let allowed {
            for key in map.keys.sorted() where !allowed.contains(key) {
                throw fail(item.map { "\($0).\(key)" } ?? key, "unknown key (known: \(allowed.joined(separator: ", ")))")
            }
        }
        return map
    }

    func list(_ value: Any?, item: String) throws -> [Any] {
        guard let value else { throw fail(item, "missing") }
        guard let list = value as? [Any] else { throw fail(item, "expected a list") }
        return list
    }

    func string(_ value: Any?, item: String) throws -> String {
        guard let value else { throw fail(item, "missing") }
        guard let s = value as? String, !s.isEmpty else { throw fail(item, "expected a non-empty string, found \(value)") }
        return s
    }

    /// A string or a list of strings.
    func strings(_ value: Any?, item: String) throws -> [String] {
        if let s = value as? String { return [try string(s, item: item)] }
        return try list(value, item: item).enumerated().map { try string($1, item: "\(item)[\($0)]") }
    }

    func number(_ value: Any, item: String) throws -> Double {
        switch value {
        case let d as Double where d.isFinite: return d
        case let i as Int: return Double(i)
        default: throw fail(item, "expected a finite number, found \(value)")
        }
    }

    func positiveInt(_ value: Any, item: String, allowZero: Bool = false) throws -> Int {
        guard let i = value as? Int, i > 0 || (allowZero && i == 0) else {
            throw fail(item, "expected a \(allowZero ? "non-negative" : "positive") integer, found \(value)")
        }
        return i
    }

    /// A mapping of names to paths in the order the file writes them (Yams' dictionaries forget the order).
    func orderedMapping(in text: String, key: String, value: Any?) throws -> [(name: String, dump: String)] {
        _ = try mapping(value, item: key, allowed: nil)
        guard let root = try? Yams.compose(yaml: text), let node = root.mapping?[key], let map = node.mapping else {
            throw fail(key, "expected a mapping of names to paths")
        }
        return try map.map { k, v in
            guard let name = k.string, !name.isEmpty else { throw fail(key, "every name must be a non-empty string") }
            guard let path = v.string, !path.isEmpty else { throw fail("\(key).\(name)", "expected a path") }
            return (name, path)
        }
    }
}
