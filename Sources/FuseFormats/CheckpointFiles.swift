import Foundation

/// The tensors of a Hugging Face checkpoint directory: either `model.safetensors` or shards
/// listed in `model.safetensors.index.json`.
public final class CheckpointTensors {
    public let directory: URL
    private var files: [String: SafetensorsFile] = [:]
    /// tensor name → file name
    public let location: [String: String]

    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        let single = directory.appendingPathComponent("model.safetensors")
        if fm.fileExists(atPath: index.path) {
            let json: Any
            do {
                json = try JSONSerialization.jsonObject(with: Data(contentsOf: index))
            } catch {
                throw FormatError(url: index, "not valid JSON")
            }
            guard let map = (json as? [String: Any])?["weight_map"] as? [String: Any] else {
                throw FormatError(url: index, item: "weight_map", "missing or not an object")
            }
            var location: [String: String] = [:]
            for (name, file) in map {
                guard let f = file as? String, !f.contains("/") else {
                    throw FormatError(url: index, item: "weight_map.\(name)", "is not a file name")
                }
                location[name] = f
            }
            self.location = location
            for f in Set(location.values) {
                files[f] = try SafetensorsFile(url: directory.appendingPathComponent(f))
            }
            for (name, f) in location where files[f]!.tensors[name] == nil {
                throw FormatError(url: directory.appendingPathComponent(f), item: "tensor \(name)",
                                  "listed in model.safetensors.index.json but not in this shard")
            }
        } else if fm.fileExists(atPath: single.path) {
            let file = try SafetensorsFile(url: single)
            files["model.safetensors"] = file
            location = Dictionary(uniqueKeysWithValues: file.names.map { ($0, "model.safetensors") })
        } else {
            throw FormatError(url: directory, "no model.safetensors or model.safetensors.index.json in this directory")
        }
    }

    public var names: [String] { location.keys.sorted() }

    public func file(for name: String) -> SafetensorsFile? {
        location[name].flatMap { files[$0] }
    }

    public func info(_ name: String) -> TensorInfo? { file(for: name)?.tensors[name] }

    public func copyFloats(_ name: String, into destination: UnsafeMutablePointer<Float>, count: Int) throws {
        guard let file = file(for: name) else {
            throw FormatError(url: directory, item: "tensor \(name)", "missing from the checkpoint")
        }
        try file.copyFloats(name, into: destination, count: count)
    }

    /// Writes tensors as `model.safetensors`, or as `model-0000i-of-0000n.safetensors` shards with an
    /// index when they exceed `maxShardBytes`. Each file is written atomically.
    public static func write(_ tensors: [TensorToWrite], dtype: DType, to directory: URL,
                             maxShardBytes: Int? = nil) throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw FormatError(url: directory, "cannot create output directory (\(FormatError.reason(error)))")
        }
        var shards: [[TensorToWrite]] = [[]]
        var shardBytes = 0
        for t in tensors {
            let bytes = t.elementCount * dtype.byteSize
            if let limit = maxShardBytes, shardBytes > 0, shardBytes + bytes > limit {
                shards.append([])
                shardBytes = 0
            }
            shards[shards.count - 1].append(t)
            shardBytes += bytes
        }
        if shards.count == 1 {
            try SafetensorsWriter.write(tensors, dtype: dtype, to: directory.appendingPathComponent("model.safetensors"))
            try? fm.removeItem(at: directory.appendingPathComponent("model.safetensors.index.json"))
            return
        }
        var weightMap: [String: String] = [:]
        for (i, shard) in shards.enumerated() {
            let name = String(format: "model-%05d-of-%05d.safetensors", i + 1, shards.count)
            try SafetensorsWriter.write(shard, dtype: dtype, to: directory.appendingPathComponent(name))
            for t in shard { weightMap[t.name] = name }
        }
        let total = tensors.reduce(0) { $0 + $1.elementCount * dtype.byteSize }
        let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys]),
                             to: directory.appendingPathComponent("model.safetensors.index.json"))
        try? fm.removeItem(at: directory.appendingPathComponent("model.safetensors"))
    }
}
