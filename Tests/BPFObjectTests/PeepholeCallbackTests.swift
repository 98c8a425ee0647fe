import BPFObject
import Testing

/// A BPF_PSEUDO_FUNC reference (`lddw rX, callback`) is pc-relative like a jump: the pass must
/// not move code around it.
@Suite struct PeepholeCallbackTests {
    @Test func leavesProgramsWithCallbackReferencesAlone() throws {
        var asm = Assembler()
        asm.jump(to: "next")                         // goto +0: would be dropped otherwise
        asm.label("next")
        asm.loadFunctionAddress(.r2, "callback")
        asm.mov(.r3, 0)
        asm.mov(.r4, 0)
        asm.call(helperID: HelperFunction.forEachMapElem.rawValue)
        asm.exit()
        asm.label("callback")
        asm.mov(.r0, 0)
        asm.exit()
        let program = try asm.assemble()
        let result = PeepholeOptimizer.optimize(program)
        #expect(result.instructions == program)
        #expect(result.newIndex == program.indices.map { $0 })
    }
}
