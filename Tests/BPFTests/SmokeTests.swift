import BPF
import BPFObject
import Testing

@Suite(.kernel)
struct SmokeTests {
    @Test func hashMapRoundTrip() throws {
        let map = try Map(MapSpec(name: "smoke", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        try map.update([1, 0, 0, 0], [7, 0, 0, 0, 0, 0, 0, 0])
        #expect(try map.lookup([1, 0, 0, 0]) == [7, 0, 0, 0, 0, 0, 0, 0])
        #expect(try map.lookup([2, 0, 0, 0]) == nil)
        #expect(throws: BPFError.self) { try map.update([1, 0], [0]) }
    }

    @Test func xdpProgramTestRun() throws {
        // r0 = 2 (XDP_PASS); exit
        let program = try Program(ProgramSpec(name: "smoke", type: .xdp, instructions: [
            Instruction(opcode: 0xb7, dst: 0, immediate: 2),
            Instruction(opcode: 0x95),
        ]))
        let result = try program.testRun(TestRunInput(data: [UInt8](repeating: 0, count: 64)))
        #expect(result.returnValue == 2)
    }

    @Test func verifierRejectionCarriesLog() throws {
        // exit without setting r0: "R0 !read_ok"
        do {
            _ = try Program(ProgramSpec(name: "bad", type: .xdp, instructions: [Instruction(opcode: 0x95)]))
            Issue.record("the verifier accepted a program that never sets r0")
        } catch BPFError.verifierRejected(let rejection) {
            #expect(rejection.log.contains("R0 !read_ok"))
            #expect(rejection.failingInstruction == 0)
        }
    }
}

@Suite(.kernel)
struct ObjectInfoSmokeTests {
    @Test func mapInfoMatchesSpec() throws {
        let map = try Map(MapSpec(name: "info_smoke", type: .array, keySize: 4, valueSize: 16, maxEntries: 3))
        let info = try map.info()
        #expect(info.name == "info_smoke")
        #expect(info.type == .array)
        #expect(info.keySize == 4 && info.valueSize == 16 && info.maxEntries == 3)
        #expect(try KernelObjects.ids(of: .map).contains(info.id))
        let reopened = try Map(adopting: try KernelObjects.open(.map, id: info.id))
        #expect(reopened.valueSize == 16)
    }
}

@Suite(.kernel)
struct TestRunShapeTests {
    /// Raw tracepoint programs take a context only; repeat/data/ctx_out must stay zero.
    @Test func rawTracepointRunsOnContext() throws {
        var asm = Assembler()
        asm.load(.doubleWord, .r0, .r1, 0) // r0 = args[0]
        asm.exit()
        let program = try Program(ProgramSpec(name: "rawtp_run", type: .rawTracepoint, instructions: try asm.assemble()))
        let context = withUnsafeBytes(of: UInt64(41).littleEndian) { Array($0) }
        let result = try program.testRun(TestRunInput(context: context, repeatCount: 5))
        #expect(result.returnValue == 41)
    }

    /// A refusal the kernel reports as ENOTSUPP still comes with the verifier's log.
    @Test func nonEACCESRejectionCarriesLog() throws {
        let array = try Map(MapSpec(name: "two_entries", type: .array, keySize: 4, valueSize: 8, maxEntries: 2))
        var asm = Assembler()
        asm.loadMapValue(.r1, fd: try array.fd.value())
        asm.mov(.r0, 0)
        asm.exit()
        do {
            _ = try Program(ProgramSpec(name: "direct_value", type: .xdp, instructions: try asm.assemble()))
            Issue.record("direct value access into a 2-entry array was accepted")
        } catch BPFError.verifierRejected(let rejection) {
            #expect(!rejection.log.isEmpty)
        }
    }
}

struct VerifierRejectionReasonTests {
    /// After "infinite loop detected at insn N" the kernel dumps the current and old states;
    /// the reason is the detection, not the dump.
    @Test func reasonSkipsTheLoopStateDump() {
        let log = """
            2: (61) r1 = *(u32 *)(r10 -4)
            infinite loop detected at insn 3
            cur state: R1=0 R10=fp0 fp-8=0000????
            old state: R1=P0 R10=fp0 fp-8=0000????
            processed 10 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
            """
        let rejection = VerifierRejection(programName: "loop", errno: .EINVAL, log: log)
        #expect(rejection.reason == "infinite loop detected at insn 3")
        #expect(rejection.failingInstruction == 2)
    }
}
