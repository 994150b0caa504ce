import Foundation
import FuseFormats

/// `--config FILE.yaml` for any subcommand: the file's keys are the command's long options (snake_case or
/// kebab-case), expanded into arguments placed before the ones typed on the command line, so a typed option
/// overrides the file's value (lists typed on the command line add to the file's).
///
///     # fuse.yaml                          fusellm train --config fuse.yaml --steps 10
///     prepared: checkpoints/prepared
///     teachers: [checkpoints/dump-target, checkpoints/dump-smollm2]
///     fusion: mince
///     lambda: 0.9
///     resume: true                         (true → the flag; false → left out)
enum ConfigFile {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    static func expand(_ arguments: [String]) throws -> [String] {
        guard let at = arguments.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) else { return arguments }
        let path: String
        var rest = arguments
        if arguments[at].hasPrefix("--config=") {
            path = String(arguments[at].dropFirst("--config=".count))
            rest.remove(at: at)
        } else {
            guard at + 1 < arguments.count else { throw Problem(description: "--config needs a YAML file") }
            path = arguments[at + 1]
            rest.removeSubrange(at...(at + 1))
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Problem(description: "\(path): cannot read the config file (\((error as NSError).localizedDescription))")
        }
        let loaded = try SafeYAML.load(text, source: path)
        guard let mapping = loaded as? [String: Any] else {
            throw Problem(description: "\(path): expected a mapping of option names to values at the top level")
        }
        var fromFile: [String] = []
        for key in mapping.keys.sorted() {
            let option = "--" + key.replacingOccurrences(of: "_", with: "-")
            switch mapping[key] {
            case let flag as Bool:
                if flag { fromFile.append(option) }
            case let list as [Any]:
                guard !list.isEmpty else { continue }
                fromFile.append(option)
                fromFile += try list.map { try scalar($0, key: key, path: path) }
            case let value?:
                fromFile += [option, try scalar(value, key: key, path: path)]
            case nil:
                continue
            }
        }
        // Subcommand names come first: the file's options go right after them.
        let firstOption = rest.firstIndex(where: { $0.hasPrefix("-") }) ?? rest.endIndex
        return Array(rest[..<firstOption]) + fromFile + Array(rest[firstOption...])
    }

    private static func scalar(_ value: Any, key: String, path: String) throws -> String {
        switch value {
        case let s as String: return s
        case let i as Int: return String(i)
        case let d as Double: return String(d)
        case let b as Bool: return String(b)
        default: throw Problem(description: "\(path): \(key) must be a string, number, boolean or list of them")
        }
    }
}
