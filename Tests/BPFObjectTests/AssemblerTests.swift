import Testing
@testable import BPFObject

@Suite struct AssemblerTests {
    @Test func forwardAndBackwardLabels() throws {
        var asm = Assembler()
        asm.mov(.r0, 0)                       // 0
        asm.label("loop")
        asm.add(.r0, 1)                       // 1
        asm.jump(.ge, .r0, 10, to: "done")    // 2 → 5
        asm.jump(.lt, .r0, .r1, to: "loop", is32Bit: true) // 3 → 1
        asm.jump(to: "loop")                  // 4 → 1
        asm.label("done")
        asm.exit()                            // 5
        let program = try asm.assemble()
        #expect(try program.decodedInstructions() == [
            .arithmetic(.mov, .bits64, dst: .r0, .immediate(0)),
            .arithmetic(.add, .bits64, dst: .r0, .immediate(1)),
            .conditionalJump(.ge, .bits64, dst: .r0, .immediate(10), offset: 2),
            .conditionalJump(.lt, .bits32, dst: .r0, .register(.r1), offset: -3),
            .jump(offset: -4),
            .exit,
        ])
    }

    @Test func longJumpsMayGotoCallsAndFunctionAddresses() throws {
        var asm = Assembler()
        asm.loadFunctionAddress(.r2, "callback")  // 0-1: offset counts from slot 1
        asm.mayGoto("out")                        // 2
        asm.call(subprogram: "callback")          // 3
        asm.jumpLong(to: "out")                   // 4
        asm.label("out")
        asm.exit()                                // 5
        asm.label("callback")
        asm.mov(.r0, 0)                           // 6
        asm.exit()                                // 7
        #expect(try asm.assemble().decodedInstructions() == [
            .loadImmediate64(dst: .r2, .function(offset: 5)),
            .mayGoto(offset: 2),
            .call(.subprogram(offset: 2)),
            .jumpLong(offset: 0),
            .exit,
            .arithmetic(.mov, .bits64, dst: .r0, .immediate(0)),
            .exit,
        ])
    }

    @Test func everyKindOfInstruction() throws {
        var asm = Assembler()
        asm.alu(.mul, .r1, 3)
        asm.alu(.xor, .r1, .r2, is32Bit: true)
        asm.signedDiv(.r1, -3)
        asm.signedMod(.r1, .r2, is32Bit: true)
        asm.movSignExtend(.r1, .r2, from: .from16)
        asm.neg(.r3, is32Bit: true)
        asm.toBigEndian(.r4, bits: .bits16)
        asm.toLittleEndian(.r4, bits: .bits32)
        asm.byteSwap(.r4, bits: .bits64)
        asm.loadSignExtend(.halfWord, .r0, .r1, 2)
        asm.store(.byte, .r10, -1, immediate: 7)
        asm.atomic(.compareExchange, .doubleWord, .r1, 0, .r2)
        asm.atomic(.exchange, .word, .r1, 0, .r2)
        asm.atomicAdd(.word, .r1, 4, .r2)
        asm.loadAcquire(.word, .r0, .r1, 0)
        asm.storeRelease(.doubleWord, .r1, 0, .r0)
        asm.loadPacket(.word, absolute: 12)
        asm.loadPacket(.byte, .r6, indirect: 0)
        asm.loadMapIndex(.r1, 0)
        asm.loadMapIndexValue(.r1, index: 1, offset: 8)
        asm.loadKernelVariable(.r1, btfID: 77)
        asm.loadMapValue(.r1, fd: 5, offset: 4)
        asm.call(kfuncBTFID: 99)
        asm.call(.ktimeGetNs)
        asm.exit()
        let lines = Disassembler().lines(try asm.assemble()).map { $0.split(separator: ":", maxSplits: 1)[1].dropFirst() }
        #expect(lines == [
            "(27) r1 *= 3",
            "(ac) w1 ^= w2",
            "(37) r1 s/= -3",
            "(9c) w1 s%= w2",
            "(bf) r1 = (s16)r2",
            "(84) w3 = -w3",
            "(dc) r4 = be16 r4",
            "(d4) r4 = le32 r4",
            "(d7) r4 = bswap64 r4",
            "(89) r0 = *(s16 *)(r1 +2)",
            "(72) *(u8 *)(r10 -1) = 7",
            "(db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)",
            "(c3) r2 = atomic_xchg((u32 *)(r1 +0), r2)",
            "(c3) lock *(u32 *)(r1 +4) += r2",
            "(c3) r0 = load_acquire((u32 *)(r1 +0))",
            "(db) store_release((u64 *)(r1 +0), r0)",
            "(20) r0 = *(u32 *)skb[12]",
            "(50) r0 = *(u8 *)skb[r6 + 0]",
            "(18) r1 = 0x0",
            "(18) r1 = map[idx:1]+8",
            "(18) r1 = 0x4d",
            "(18) r1 = map[id:5][0]+4",
            "(85) call kernel-function#99",
            "(85) call bpf_ktime_get_ns#5",
            "(95) exit",
        ])
    }

    /// `.always` makes a plain `goto` whatever the operands (the verifier rejects a JA with
    /// registers or an immediate set).
    @Test func alwaysIsAPlainGoto() throws {
        var asm = Assembler()
        asm.jump(.always, .r3, 7, to: "end")
        asm.jump(.always, .r3, .r4, to: "end", is32Bit: true)
        asm.label("end")
        asm.exit()
        #expect(try asm.assemble().decodedInstructions() == [.jump(offset: 1), .jump(offset: 0), .exit])
    }

    @Test func undefinedLabel() {
        var asm = Assembler()
        asm.jump(to: "nowhere")
        #expect(throws: Assembler.UndefinedLabel.self) { try asm.assemble() }
        var call = Assembler()
        call.call(subprogram: "missing")
        #expect { try call.assemble() } throws: { ($0 as? Assembler.UndefinedLabel)?.label == "missing" }
    }

    @Test func duplicateLabel() {
        var asm = Assembler()
        asm.label("a")
        asm.exit()
        asm.label("a")
        asm.exit()
        #expect { try asm.assemble() } throws: { ($0 as? Assembler.DuplicateLabel)?.description == "label 'a' is defined more than once" }
    }

    @Test func outOfRangeJumpNeedsGotol() throws {
        var asm = Assembler()
        asm.jump(to: "far")
        for _ in 0..<40_000 { asm.mov(.r0, 0) }
        asm.label("far")
        asm.exit()
        #expect { try asm.assemble() } throws: { ($0 as? Assembler.JumpOutOfRange)?.distance == 40_000 }

        var long = Assembler()
        long.jumpLong(to: "far")
        for _ in 0..<40_000 { long.mov(.r0, 0) }
        long.label("far")
        long.exit()
        #expect(try long.assemble()[0] == Instruction(opcode: 0x06, immediate: 40_000))
    }

    @Test func emitOperation() throws {
        var asm = Assembler()
        asm.emit(.loadImmediate64(dst: .r3, .value(1 << 40)))
        asm.emit(.exit)
        #expect(try asm.assemble() == [Instruction(opcode: 0x18, dst: 3), Instruction(opcode: 0, immediate: 256), Instruction(opcode: 0x95)])
    }
}
