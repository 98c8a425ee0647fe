import BPFObject
import Foundation
import Testing
@testable import BPFTrace

/// Budgets for output built-ins (today's counts): `probe` as a probe id and `join()`'s loop.
@Suite struct OutputCodeSizeTests {
    @Test func probeCostsOneImmediate() throws {
        let probe = try TraceCodeSizeTests.instructions(#"t:syscalls:sys_enter_openat { printf("%s %d\n", probe, pid); }"#)
        #expect(probe.instructions.count <= 20, "printf probe: \(probe.instructions.count) instructions")
        try TraceCodeSizeTests.expectNoObviousWaste(probe)
        let key = try TraceCodeSizeTests.instructions("t:syscalls:sys_enter_openat { @[probe] = count(); }")
        #expect(key.instructions.count <= 22, "@[probe]: \(key.instructions.count) instructions")
    }

    /// One read of the 16 pointers, then 5 instructions per string.
    @Test func joinReadsThePointersOnce() throws {
        let probe = try TraceCodeSizeTests.instructions(#"t:syscalls:sys_enter_openat { join(args->filename, ","); }"#)
        #expect(probe.instructions.count <= 106, "join: \(probe.instructions.count) instructions")
        let reads = probe.instructions.filter { $0.opcode == 0x85 && $0.immediate == HelperFunction.probeReadUser.rawValue }
        #expect(reads.count == 1)
        let stringReads = probe.instructions.filter { $0.opcode == 0x85 && $0.immediate == HelperFunction.probeReadUserStr.rawValue }
        #expect(stringReads.count == TraceEventID.joinArguments)
    }
}
