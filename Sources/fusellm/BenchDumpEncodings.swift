import ArgumentParser
import FuseFormats
import Foundation
import Fusion

/// Re-encodes an existing dump's texts in every value encoding: bytes per kept entry on disk, the largest error
/// against the dump's own values, and encode / decode rates — the numbers that decide what a MiniPile-scale dump
/// costs in disk and in training time. Best measured on an exact (`--encoding f32`) dump.
struct BenchDumpEncodings: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump-encodings",
        abstract: "Bytes per kept entry, error and encode/decode rate of every dump encoding, on an existing dump's texts.")

    @Option(help: "A dump directory (an f32 dump gives exact errors).") var dump: String
    @Option(help: "Use at most this many texts.") var texts = 1000
    @Option(help: "Also keep only the top n of each position (repeatable; default: the dump's k).") var k: [Int] = []
    @Flag(help: "Print one JSON object per line instead of a table.") var json = false

    func run() throws {
        do { try bench() } catch { throw CleanExit(error) }
    }

    private func bench() throws {
        let reader = try TeacherDumpReader(directory: URL(fileURLWithPath: dump))
        let m = reader.manifest
        let originals = try (0..<min(texts, m.blockCount)).map { try reader.block($0) }
        let ks = k.isEmpty ? [m.k] : k
        if !json {
            print("fusellm bench dump-encodings  (\(dump): \(m.source), stored as \(m.valueEncoding.rawValue), \(originals.count) texts)")
            print("  k     encoding  bytes/entry  bytes/position  max |Δ log p|  encode pos/s  decode pos/s")
        }
        for k in ks {
            guard k >= 1, k <= m.k else { throw ValidationError("--k must be in 1...\(m.k) (the dump's k)") }
            let texts = originals.map { $0.keepingTop(k) }
            let positions = texts.reduce(0) { $0 + $1.tokens.count }
            for encoding in ValueEncoding.allCases {
                var start = DispatchTime.now().uptimeNanoseconds
                let records = try texts.map { try TeacherShard.frame($0, encoding) }
                let encodeSeconds = seconds(since: start)
                let bytes = records.reduce(0) { $0 + $1.count }
                start = DispatchTime.now().uptimeNanoseconds
                let decoded = try records.map { try TeacherShard.text(fromFrame: $0, encoding, file: dump, item: "text") }
                let decodeSeconds = seconds(since: start)
                let worst = zip(decoded, texts).map { BenchDump.maxError($0, $1) }.max() ?? 0
                let row: [String: Any] = [
                    "k": k, "encoding": encoding.rawValue, "texts": texts.count, "positions": positions, "bytes": bytes,
                    "bytes_per_entry": Double(bytes) / Double(positions * k), "bytes_per_position": Double(bytes) / Double(positions),
                    "max_logprob_error": Double(worst), "stated_max_error": Double(encoding.maxError),
                    "encode_positions_per_s": Double(positions) / encodeSeconds,
                    "decode_positions_per_s": Double(positions) / decodeSeconds,
                ]
                if json {
                    print(String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self))
                } else {
                    print(String(format: "  %-4d  %-8@  %11.3f  %14.1f  %13.2e  %12.0f  %12.0f", k, encoding.rawValue,
                                 Double(bytes) / Double(positions * k), Double(bytes) / Double(positions), Double(worst),
                                 Double(positions) / encodeSeconds, Double(positions) / decodeSeconds))
                }
            }
        }
    }

    private func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
}
