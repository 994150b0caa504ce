import Distributed
import XCTest

/// When fusellm joins an MPI job, and how it splits a machine's cores between ranks.
final class LauncherTests: XCTestCase {
    func testAPlainRunNeverUsesMPI() throws {
        XCTAssertFalse(Launcher.isLaunched([:]))
        XCTAssertFalse(Launcher.isLaunched(["SLURM_STEP_NUM_TASKS": "1", "SLURM_PROCID": "0"]), "srun -n 1 is one process")
        XCTAssertFalse(Launcher.isLaunched(["OMPI_COMM_WORLD_SIZE": "2", "FUSELLM_MPI": "0"]), "FUSELLM_MPI=0 forbids it")
        XCTAssertTrue(try Launcher.processGroup([:]) is SingleProcess)
    }

    func testLaunchersAreRecognised() {
        XCTAssertTrue(Launcher.isLaunched(["OMPI_COMM_WORLD_SIZE": "2"]), "Open MPI's mpirun")
        XCTAssertTrue(Launcher.isLaunched(["PMIX_RANK": "0"]), "srun --mpi=pmix")
        XCTAssertTrue(Launcher.isLaunched(["PMI_RANK": "1"]), "srun --mpi=pmi2")
        XCTAssertTrue(Launcher.isLaunched(["SLURM_STEP_NUM_TASKS": "4"]), "srun -n 4 without an MPI plugin")
        XCTAssertTrue(Launcher.isLaunched(["FUSELLM_MPI": "1"]))
    }

    func testCoresAreSharedByTheRanksOfOneMachine() {
        XCTAssertEqual(Launcher.ranksOnThisNode(["OMPI_COMM_WORLD_LOCAL_SIZE": "2"]), 2)
        XCTAssertEqual(Launcher.ranksOnThisNode(["SLURM_STEP_TASKS_PER_NODE": "8(x4)"]), 8)
        XCTAssertNil(Launcher.ranksOnThisNode([:]))
    }

    func testAnMPILibraryThatCannotBeLoadedIsNamed() {
        let env = ["FUSELLM_MPI": "1", "FUSELLM_MPI_LIBRARY": "/nonexistent/libmpi.so.40"]
        XCTAssertThrowsError(try Launcher.processGroup(env)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/libmpi.so.40"), "\(error)")
        }
    }

    func testSingleProcessCollectivesAreTheIdentity() {
        let group = SingleProcess()
        var values: [Float] = [1, 2, 3]
        values.withUnsafeMutableBufferPointer { group.sumInPlace($0.baseAddress!, count: 3) }
        XCTAssertEqual(values, [1, 2, 3])
        XCTAssertEqual(group.sum([0.5, 2]), [0.5, 2])
        XCTAssertTrue(group.minMax([1, 2]) == ([1, 2], [1, 2]))
        XCTAssertEqual(group.allGather(Data([7, 8])), [Data([7, 8])])
        XCTAssertEqual(group.label, "")
    }
}
