import FuseFormats
import Foundation

/// `dump-settings.json`: the settings of the dump a directory holds, written when the first worker starts (the
/// manifests only appear when a part finishes). A later run into the same directory — a resume, or another
/// `--shard` part — must have the same settings, so shards of different dumps never mix.
enum DumpSettingsFile {
    static let name = "dump-settings.json"

    /// Refuses a directory holding a dump made with other settings; records `settings` when it holds none.
    static func claim(_ directory: URL, for settings: TeacherManifest) throws {
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw FormatError(url: directory, "cannot create the output directory (\(FormatError.reason(error)))")
        }
        let names = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        let manifests = names.filter { $0 == TeacherDump.manifestName || ($0.hasPrefix("manifest.part-") && $0.hasSuffix(".json")) }
        for name in [Self.name] + manifests where names.contains(name) {
            let url = directory.appendingPathComponent(name)
            let existing = try TeacherManifest.read(url)
            if let change = difference(settings, existing) {
                throw FormatError(url: url, "the directory holds a dump made with other settings (\(change)); use another --output or remove it")
            }
        }
        if !names.contains(Self.name) {
            if names.contains(where: { $0.hasPrefix("shard-") && $0.hasSuffix(".fzst") }) {
                throw FormatError(url: directory, "holds dump shards but no \(Self.name): they cannot be checked against this run's settings; use another --output or remove them")
            }
            var record = settings
            record.shards = []
            try record.write(to: directory.appendingPathComponent(Self.name))
        }
    }

    /// The encoding of the dump `directory` already holds (its settings file), so resuming an older dump without
    /// naming its encoding continues it as it was begun.
    static func recordedEncoding(in directory: URL) -> ValueEncoding? {
        try? TeacherManifest.read(directory.appendingPathComponent(name)).valueEncoding
    }

    /// What differs between two dumps' settings, in words, or nil.
    static func difference(_ a: TeacherManifest, _ b: TeacherManifest) -> String? {
        if a.tokenizerFingerprint != b.tokenizerFingerprint { return "another tokenizer: \(b.tokenizerFingerprint), this run \(a.tokenizerFingerprint)" }
        if a.blocksFingerprint != b.blocksFingerprint || a.blockCount != b.blockCount {
            return "other prepared texts: \(b.blockCount) texts \(b.blocksFingerprint.prefix(16)), this run \(a.blockCount) texts \(a.blocksFingerprint.prefix(16))"
        }
        if a.source != b.source { return "another source model: \(b.source), this run \(a.source)" }
        if a.k != b.k { return "k = \(b.k), this run \(a.k)" }
        if a.valueEncoding != b.valueEncoding { return "encoding \(b.valueEncoding.rawValue), this run \(a.valueEncoding.rawValue)" }
        if a.blocksPerShard != b.blocksPerShard { return "\(b.blocksPerShard) texts per shard, this run \(a.blocksPerShard)" }
        return nil
    }
}
