import Foundation

/// Typed reads from an HF config.json, each failure one error naming the file and the key.
public struct ConfigReader {
    /// Counts and sizes are bounded so that nothing sized by a corrupt value overflows or allocates without bound.
    public static let maxSize = 1 << 24
    public static let maxLayers = 4096

    public let json: [String: Any]
    public let source: String

    public init(json: [String: Any], source: String) {
        self.json = json
        self.source = source
    }

    public static func load(_ url: URL) throws -> ConfigReader {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FormatError(url: url, "cannot read config (\(FormatError.reason(error)))")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FormatError(url: url, "not a JSON object")
        }
        return ConfigReader(json: json, source: url.path)
    }

    public func error(_ key: String, _ why: String) -> FormatError { FormatError(file: source, item: key, why) }

    func isAbsent(_ key: String) -> Bool { json[key] == nil || json[key] is NSNull }

    public func has(_ key: String) -> Bool { !isAbsent(key) }

    /// A count or size: a whole number in 0...2²⁴, so that nothing sized by a corrupt value can overflow or
    /// allocate without bound.
    public func int(_ key: String, default value: Int? = nil) throws -> Int {
        if let n = JSONNumber.number(json[key]), n.doubleValue == n.doubleValue.rounded() {
            guard n.doubleValue >= 0, n.doubleValue <= Double(ConfigReader.maxSize) else {
                throw error(key, "\(n) is not a plausible size (0...\(ConfigReader.maxSize))")
            }
            return n.intValue
        }
        if isAbsent(key), let value { return value }
        throw error(key, isAbsent(key) ? "missing" : "is not an integer")
    }

    /// A layer count, bounded before anything is sized by it (a corrupt config must not allocate per-layer tables
    /// for 2⁶⁰ layers).
    public func layerCount(_ key: String) throws -> Int {
        let n = try int(key)
        guard (1...ConfigReader.maxLayers).contains(n) else {
            throw error(key, "\(n) layers is not a plausible model (1...\(ConfigReader.maxLayers))")
        }
        return n
    }

    public func optionalInt(_ key: String) throws -> Int? {
        isAbsent(key) ? nil : try int(key)
    }

    public func double(_ key: String, default value: Double? = nil) throws -> Double {
        if let n = JSONNumber.number(json[key]) { return n.doubleValue }
        if isAbsent(key), let value { return value }
        throw error(key, isAbsent(key) ? "missing" : "is not a number")
    }

    public func optionalDouble(_ key: String) throws -> Double? {
        isAbsent(key) ? nil : try double(key)
    }

    public func bool(_ key: String, default value: Bool) throws -> Bool {
        if isAbsent(key) { return value }
        guard let b = json[key] as? Bool else { throw error(key, "is not true or false") }
        return b
    }

    public func string(_ key: String, default value: String? = nil) throws -> String {
        if let s = json[key] as? String { return s }
        if isAbsent(key), let value { return value }
        throw error(key, isAbsent(key) ? "missing" : "is not a string")
    }

    /// A token id that may be written as a list (several EOS ids): the first one.
    public func tokenID(_ key: String) -> Int? {
        if let n = JSONNumber.number(json[key]) { return n.intValue }
        if let list = json[key] as? [NSNumber] { return list.first?.intValue }
        return nil
    }

    /// The first key of `keys` present (families name the same field differently).
    public func first(_ keys: [String]) -> String? { keys.first { has($0) } }

    /// Refuses a key whose value would change the computation in a way not implemented.
    public func refuse(_ key: String, unless allowed: (Any) -> Bool, _ why: String) throws {
        if let value = json[key], !(value is NSNull), !allowed(value) { throw error(key, why) }
    }
}
