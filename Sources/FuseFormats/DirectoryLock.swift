import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An advisory lock on an output directory, so two fusellm processes started by mistake on the same `--output`
/// do not interleave their files: the second gets one error naming the directory and the process holding it.
/// flock(2) on a hidden file in the directory: the kernel releases it when the holder exits, however it exits, so
/// a killed run leaves nothing stale behind. Writers that may share a directory (the parts of one dump) take it
/// `shared` and an exclusive lock of their own part; a writer of the whole directory takes it `exclusive`.
public final class DirectoryLock {
    public enum Mode { case shared, exclusive }

    public static let fileName = ".fusellm.lock"
    private let descriptor: Int32

    /// Takes the lock `name` in `directory` (created if needed) without waiting; throws when another process holds it
    /// in a conflicting mode. `purpose` (e.g. "fusellm dump, part 0/2") is what a refused process is told.
    public init(_ directory: URL, name: String = DirectoryLock.fileName, mode: Mode, purpose: String) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw FormatError(url: directory, "cannot create the output directory (\(FormatError.reason(error)))")
        }
        let url = directory.appendingPathComponent(name)
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FormatError(url: url, "cannot open the lock file (\(String(cString: strerror(errno))))") }
        if flock(fd, (mode == .exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            let reason = errno
            let holder = Self.holder(fd)
            close(fd)
            guard reason == EWOULDBLOCK else {
                throw FormatError(url: url, "cannot lock (\(String(cString: strerror(reason))))")
            }
            throw FormatError(url: directory, "is in use by another fusellm process\(holder.map { " (\($0))" } ?? ""); "
                              + "wait for it to finish or use another output directory")
        }
        descriptor = fd
        exclusive = mode == .exclusive
        // An exclusive holder says who it is; a shared one clears what a killed exclusive holder left (no one else
        // can hold it exclusively now).
        if exclusive { Self.record(purpose, fd) } else { ftruncate(fd, 0) }
    }

    private let exclusive: Bool

    deinit {
        if exclusive { ftruncate(descriptor, 0) }
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// Who holds the lock, as the holder wrote it (exclusive holders only).
    private static func holder(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    private static func record(_ purpose: String, _ fd: Int32) {
        let formatter = ISO8601DateFormatter()
        let text = "\(purpose), pid \(getpid()), since \(formatter.string(from: Date()))\n"
        ftruncate(fd, 0)
        _ = text.utf8CString.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count - 1, 0) }
    }
}
