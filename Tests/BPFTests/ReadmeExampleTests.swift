import BPF
import BPFObject
import Foundation
import Testing

/// The README's library example, verbatim: if this breaks, so does the README.
@Suite(.kernel, .serialized)
struct ReadmeExampleTests {
    @Test func countsThisProcessGetppidCalls() throws {
        // README example begins
        let counts = try HashMap<UInt32, UInt64>(name: "counts", maxEntries: 1)
        try counts.update(0, 0)

        var asm = Assembler()
        asm.call(.getCurrentPidTgid)             // r0 = tgid << 32 | pid
        asm.alu(.rsh, .r0, 32)
        asm.jump(.ne, .r0, Int32(getpid()), to: "out")
        asm.store(.word, .r10, -4, immediate: 0) // key = 0
        asm.loadMapFD(.r1, try counts.map.fd.value())
        asm.mov(.r2, .r10)
        asm.add(.r2, -4)
        asm.call(.mapLookupElem)                 // r0 = &counts[0] or NULL
        asm.jump(.eq, .r0, 0, to: "out")
        asm.mov(.r1, 1)
        asm.atomicAdd(.doubleWord, .r0, 0, .r1)  // counts[0] += 1
        asm.label("out")
        asm.mov(.r0, 0)
        asm.exit()

        let program = try Program(ProgramSpec(name: "count_getppid", type: .tracepoint, instructions: try asm.assemble()))
        let link = try program.attachTracepoint("syscalls:sys_enter_getppid")
        for _ in 0..<5 { _ = getppid() }
        print(try counts.lookup(0) ?? 0)         // 5
        try link.close()
        // README example ends
        #expect(try counts.lookup(0) == 5)
    }
}
