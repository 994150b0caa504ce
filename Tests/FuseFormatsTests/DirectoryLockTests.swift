import FuseFormats
import XCTest
import TestSupport

/// flock(2) locks belong to an open file description, so two locks taken in one process conflict exactly as two
/// processes' would.
final class DirectoryLockTests: XCTestCase {
    func testASecondWriterIsRefusedWithTheHolderNamed() throws {
        let dir = temporaryDirectory("lock")
        var first: DirectoryLock? = try DirectoryLock(dir, mode: .exclusive, purpose: "fusellm train")
        XCTAssertThrowsError(try DirectoryLock(dir, mode: .exclusive, purpose: "fusellm train")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(dir.path) && message.contains("in use by another fusellm process"), message)
            XCTAssertTrue(message.contains("fusellm train, pid \(getpid())"), message)
            XCTAssertFalse(message.contains("\n"))
        }
        XCTAssertThrowsError(try DirectoryLock(dir, mode: .shared, purpose: "fusellm dump"))
        withExtendedLifetime(first) {}
        first = nil  // released: the next writer may start
        XCTAssertNoThrow(try DirectoryLock(dir, mode: .exclusive, purpose: "fusellm train"))
    }

    func testSharedHoldersCoexistAndKeepOutAnExclusiveOne() throws {
        let dir = temporaryDirectory("lock-shared")
        let a = try DirectoryLock(dir, mode: .shared, purpose: "fusellm dump")
        let b = try DirectoryLock(dir, mode: .shared, purpose: "fusellm dump")
        XCTAssertThrowsError(try DirectoryLock(dir, mode: .exclusive, purpose: "fusellm dump merge")) {
            XCTAssertTrue("\($0)".contains("in use by another fusellm process"), "\($0)")
        }
        withExtendedLifetime((a, b)) {}
    }

    func testAnOutputThatCannotBeADirectoryIsAClearError() throws {
        let file = temporaryDirectory("lock-file").appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try DirectoryLock(file, mode: .exclusive, purpose: "fusellm prepare")) {
            XCTAssertTrue("\($0)".contains("plain"), "\($0)")
        }
    }
}
