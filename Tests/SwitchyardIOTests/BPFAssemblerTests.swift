import CSwitchyard
import Glibc
import XCTest

/// The BPF assembler in CSwitchyard/bpf_asm.c: a program that does not fit its room is an
/// error, and nothing is written past the instruction array.
final class BPFAssemblerTests: XCTestCase {
    func testProgramsFitTheAssembler() {
        // The assembler's room (SY_ASM_MAX) is far more than either program needs.
        XCTAssertGreaterThan(sy_xdp_program_length(96), 0)
        XCTAssertGreaterThan(sy_tcx_guard_program_length(96), 0)
    }

    func testOverflowIsReportedNotWritten() {
        let xdp = sy_xdp_program_length(96)
        let guardProgram = sy_tcx_guard_program_length(96)
        // Exactly enough room: fits. One instruction less: refused, with E2BIG.
        XCTAssertEqual(sy_xdp_program_length(xdp), xdp)
        errno = 0
        XCTAssertEqual(sy_xdp_program_length(xdp - 1), -1)
        XCTAssertEqual(errno, E2BIG)
        XCTAssertEqual(sy_tcx_guard_program_length(guardProgram), guardProgram)
        errno = 0
        XCTAssertEqual(sy_tcx_guard_program_length(guardProgram - 1), -1)
        XCTAssertEqual(errno, E2BIG)
        // No room at all (and a nonsense room): refused, not written.
        XCTAssertEqual(sy_xdp_program_length(0), -1)
        XCTAssertEqual(sy_tcx_guard_program_length(-5), -1)
    }
}
