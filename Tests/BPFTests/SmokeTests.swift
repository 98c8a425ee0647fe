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
