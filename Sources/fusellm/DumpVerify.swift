import ArgumentParser
import Foundation
import Fusion

struct DumpVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a dump: every shard's SHA-256 and frames, counts against the manifest (and the prepared corpus), value ranges.",
        discussion: "Prints one line per problem (FILE: problem) and exits non-zero if there is any; otherwise one summary line.")

    @Argument(help: "The dump directory.") var directory: String
    @Option(help: "The prepared corpus the dump was made from: also checks its texts and their source tokens.") var prepared: String?

    func run() throws {
        let corpus: PreparedCorpus?
        do { corpus = try prepared.map { try PreparedCorpus(directory: URL(fileURLWithPath: $0)) } } catch { throw CleanExit(error) }
        let report = TeacherDumpVerifier(directory: URL(fileURLWithPath: directory), prepared: corpus).run()
        for line in report.problems { print(line) }
        let summary = "\(report.shards) shards, \(report.texts) texts, \(report.positions) positions, \(report.bytes) bytes"
        if report.problems.isEmpty {
            print("\(directory): ok (\(summary)\(corpus == nil ? "" : ", made from \(prepared!)"))")
        } else {
            FileHandle.standardError.write(Data("\(directory): \(report.problems.count) problem(s) (\(summary))\n".utf8))
            throw ExitCode(1)
        }
    }
}
