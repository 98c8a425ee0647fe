import Testing
@testable import BPFObject

/// Golden strings in the formats of kernel/bpf/disasm.c as bpftool prints them.
@Suite struct DisassemblerTests {
    private func text(_ operation: DecodedInstruction) -> String { Disassembler().text(of: operation) }

    @Test func arithmetic() {
        #expect(text(.arithmetic(.mov, .bits64, dst: .r0, .immediate(0))) == "(b7) r0 = 0")
        #expect(text(.arithmetic(.mov, .bits64, dst: .r1, .register(.r10))) == "(bf) r1 = r10")
        #expect(text(.arithmetic(.add, .bits64, dst: .r1, .immediate(-8))) == "(07) r1 += -8")
        #expect(text(.arithmetic(.mov, .bits32, dst: .r0, .immediate(1))) == "(b4) w0 = 1")
        #expect(text(.arithmetic(.add, .bits32, dst: .r2, .register(.r3))) == "(0c) w2 += w3")
        #expect(text(.arithmetic(.sub, .bits64, dst: .r2, .register(.r3))) == "(1f) r2 -= r3")
        #expect(text(.arithmetic(.mul, .bits64, dst: .r2, .immediate(3))) == "(27) r2 *= 3")
        #expect(text(.arithmetic(.div, .bits64, dst: .r2, .immediate(3))) == "(37) r2 /= 3")
        #expect(text(.arithmetic(.signedDiv, .bits64, dst: .r2, .immediate(3))) == "(37) r2 s/= 3")
        #expect(text(.arithmetic(.signedMod, .bits32, dst: .r2, .register(.r4))) == "(9c) w2 s%= w4")
        #expect(text(.arithmetic(.mod, .bits64, dst: .r2, .register(.r4))) == "(9f) r2 %= r4")
        #expect(text(.arithmetic(.or, .bits64, dst: .r2, .immediate(1))) == "(47) r2 |= 1")
        #expect(text(.arithmetic(.and, .bits32, dst: .r2, .immediate(255))) == "(54) w2 &= 255")
        #expect(text(.arithmetic(.lsh, .bits64, dst: .r2, .immediate(32))) == "(67) r2 <<= 32")
        #expect(text(.arithmetic(.rsh, .bits64, dst: .r2, .immediate(32))) == "(77) r2 >>= 32")
        #expect(text(.arithmetic(.arsh, .bits64, dst: .r2, .immediate(32))) == "(c7) r2 s>>= 32")
        #expect(text(.arithmetic(.xor, .bits64, dst: .r2, .register(.r2))) == "(af) r2 ^= r2")
        #expect(text(.negate(.bits64, dst: .r1)) == "(87) r1 = -r1")
        #expect(text(.negate(.bits32, dst: .r1)) == "(84) w1 = -w1")
        #expect(text(.moveSignExtend(.bits64, dst: .r1, src: .r2, fromBits: .from8)) == "(bf) r1 = (s8)r2")
        #expect(text(.moveSignExtend(.bits64, dst: .r1, src: .r2, fromBits: .from32)) == "(bf) r1 = (s32)r2")
        #expect(text(.moveSignExtend(.bits32, dst: .r1, src: .r2, fromBits: .from16)) == "(bc) w1 = (s16)w2")
        #expect(text(.addressSpaceCast(dst: .r1, src: .r2, toSpace: 1, fromSpace: 0)) == "(bf) r1 = addr_space_cast(r2, 1, 0)")
        #expect(text(.perCPUAddress(dst: .r0, src: .r0)) == "(bf) r0 = &(void __percpu *)(r0)")
    }

    @Test func byteOrder() {
        #expect(text(.byteSwap(.toBigEndian, bits: .bits16, dst: .r1)) == "(dc) r1 = be16 r1")
        #expect(text(.byteSwap(.toLittleEndian, bits: .bits64, dst: .r1)) == "(d4) r1 = le64 r1")
        #expect(text(.byteSwap(.unconditional, bits: .bits32, dst: .r3)) == "(d7) r3 = bswap32 r3")
    }

    @Test func memory() {
        #expect(text(.store(.word, dst: .r10, offset: -4, .register(.r1))) == "(63) *(u32 *)(r10 -4) = r1")
        #expect(text(.store(.doubleWord, dst: .r10, offset: -8, .immediate(0))) == "(7a) *(u64 *)(r10 -8) = 0")
        #expect(text(.store(.byte, dst: .r1, offset: 0, .immediate(-1))) == "(72) *(u8 *)(r1 +0) = -1")
        #expect(text(.load(.halfWord, dst: .r0, src: .r1, offset: 12)) == "(69) r0 = *(u16 *)(r1 +12)")
        #expect(text(.load(.doubleWord, dst: .r0, src: .r0, offset: 0)) == "(79) r0 = *(u64 *)(r0 +0)")
        #expect(text(.loadSignExtend(.byte, dst: .r0, src: .r1, offset: 0)) == "(91) r0 = *(s8 *)(r1 +0)")
        #expect(text(.loadSignExtend(.word, dst: .r0, src: .r1, offset: -2)) == "(81) r0 = *(s32 *)(r1 -2)")
        #expect(text(.loadPacketAbsolute(.halfWord, immediate: 12)) == "(28) r0 = *(u16 *)skb[12]")
        #expect(text(.loadPacketIndirect(.byte, src: .r6, immediate: 14)) == "(50) r0 = *(u8 *)skb[r6 + 14]")
        #expect(text(.speculationBarrier) == "(c2) nospec")
    }

    @Test func atomics() {
        #expect(text(.atomic(.add, .doubleWord, dst: .r1, offset: 0, src: .r2)) == "(db) lock *(u64 *)(r1 +0) += r2")
        #expect(text(.atomic(.or, .word, dst: .r1, offset: 4, src: .r2)) == "(c3) lock *(u32 *)(r1 +4) |= r2")
        #expect(text(.atomic(.and, .word, dst: .r1, offset: 4, src: .r2)) == "(c3) lock *(u32 *)(r1 +4) &= r2")
        #expect(text(.atomic(.xor, .doubleWord, dst: .r1, offset: -8, src: .r2)) == "(db) lock *(u64 *)(r1 -8) ^= r2")
        #expect(text(.atomic(.fetchAdd, .doubleWord, dst: .r1, offset: 0, src: .r0)) == "(db) r0 = atomic64_fetch_add((u64 *)(r1 +0), r0)")
        #expect(text(.atomic(.fetchXor, .word, dst: .r1, offset: 0, src: .r3)) == "(c3) r3 = atomic_fetch_xor((u32 *)(r1 +0), r3)")
        #expect(text(.atomic(.exchange, .doubleWord, dst: .r1, offset: 8, src: .r3)) == "(db) r3 = atomic64_xchg((u64 *)(r1 +8), r3)")
        #expect(text(.atomic(.compareExchange, .word, dst: .r1, offset: 0, src: .r3)) == "(c3) r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r3)")
        #expect(text(.loadAcquire(.byte, dst: .r0, src: .r1, offset: 0)) == "(d3) r0 = load_acquire((u8 *)(r1 +0))")
        #expect(text(.storeRelease(.doubleWord, dst: .r1, offset: 8, src: .r2)) == "(db) store_release((u64 *)(r1 +8), r2)")
    }

    @Test func immediates64() {
        #expect(text(.loadImmediate64(dst: .r1, .mapFD(12))) == "(18) r1 = map[id:12]")
        #expect(text(.loadImmediate64(dst: .r1, .mapValue(map: 12, offset: 16))) == "(18) r1 = map[id:12][0]+16")
        #expect(text(.loadImmediate64(dst: .r1, .mapIndexValue(index: 1, offset: 4))) == "(18) r1 = map[idx:1]+4")
        #expect(text(.loadImmediate64(dst: .r2, .function(offset: 5))) == "(18) r2 = subprog[+5]")
        #expect(text(.loadImmediate64(dst: .r2, .value(0xffff_ffff_ffff_ffff))) == "(18) r2 = 0xffffffffffffffff")
        #expect(text(.loadImmediate64(dst: .r2, .value(0))) == "(18) r2 = 0x0")
        #expect(text(.loadImmediate64(dst: .r2, .btfVariable(btfID: 0x10, moduleFD: 0))) == "(18) r2 = 0x10")
        #expect(Disassembler(mapID: { $0 == 3 ? 42 : nil }).text(of: .loadImmediate64(dst: .r1, .mapFD(3))) == "(18) r1 = map[id:42]")
    }

    @Test func controlFlow() {
        #expect(text(.conditionalJump(.eq, .bits64, dst: .r0, .immediate(0), offset: 2)) == "(15) if r0 == 0x0 goto pc+2")
        #expect(text(.conditionalJump(.ne, .bits64, dst: .r1, .immediate(-1), offset: -3)) == "(55) if r1 != 0xffffffff goto pc-3")
        #expect(text(.conditionalJump(.sgt, .bits32, dst: .r1, .register(.r2), offset: 1)) == "(6e) if w1 s> w2 goto pc+1")
        #expect(text(.conditionalJump(.lt, .bits64, dst: .r1, .register(.r2), offset: 0)) == "(ad) if r1 < r2 goto pc+0")
        #expect(text(.conditionalJump(.set, .bits32, dst: .r1, .immediate(0x10), offset: 4)) == "(46) if w1 & 0x10 goto pc+4")
        #expect(text(.conditionalJump(.sle, .bits64, dst: .r1, .immediate(5), offset: 4)) == "(d5) if r1 s<= 0x5 goto pc+4")
        #expect(text(.jump(offset: -5)) == "(05) goto pc-5")
        #expect(text(.jumpLong(offset: 70000)) == "(06) gotol pc+70000")
        #expect(text(.mayGoto(offset: 3)) == "(e5) may_goto pc+3")
        #expect(text(.jumpIndirect(dst: .r3)) == "(0d) gotox r3")
        #expect(text(.exit) == "(95) exit")
    }

    @Test func calls() {
        #expect(text(.call(.helper(1))) == "(85) call bpf_map_lookup_elem#1")
        #expect(text(.call(.helper(5))) == "(85) call bpf_ktime_get_ns#5")
        #expect(text(.call(.helper(999))) == "(85) call unknown#999")
        #expect(text(.call(.subprogram(offset: 3))) == "(85) call pc+3")
        #expect(text(.call(.subprogram(offset: -7))) == "(85) call pc-7")
        #expect(text(.call(.kfunc(btfID: 1234, moduleIndex: 0))) == "(85) call kernel-function#1234")
        let named = Disassembler(callName: { target, _ in
            if case .kfunc(1234, _) = target { return "bpf_rcu_read_lock" }
            return nil
        })
        #expect(named.text(of: .call(.kfunc(btfID: 1234, moduleIndex: 0))) == "(85) call bpf_rcu_read_lock#1234")
    }

    /// bpftool's translated-program naming: helpers by kernel symbol at `__bpf_call_base + imm`,
    /// subprograms by JIT symbol.
    @Test func translatedCallNames() {
        let base: UInt64 = 0xffff_ffff_8100_0000
        let symbols: [UInt64: String] = [base + 0x1000: "__htab_map_lookup_elem", 0xffff_ffff_c000_1000: "bpf_prog_0123456789abcdef_sub"]
        let disassembler = Disassembler.translated(callBase: base, jitedFunctionAddresses: [0xffff_ffff_c000_0000, 0xffff_ffff_c000_1000]) { symbols[$0] }
        #expect(disassembler.text(of: .call(.helper(0x1000))) == "(85) call __htab_map_lookup_elem#4096")
        #expect(disassembler.text(of: .call(.helper(0x2000))) == "(85) call 0xffffffff81002000#8192")
        // Small ids still print as the helper (as the kernel's disassembler does).
        #expect(disassembler.text(of: .call(.helper(5))) == "(85) call bpf_ktime_get_ns#5")
        #expect(disassembler.text(of: .call(.translatedSubprogram(index: 1, offset: 4))) == "(85) call pc+4#bpf_prog_0123456789abcdef_sub")
        let interpreted = Disassembler.translated(callBase: base, jitedFunctionAddresses: []) { symbols[$0] }
        #expect(interpreted.text(of: .call(.translatedSubprogram(index: 1, offset: 4))) == "(85) call pc+4")
    }

    @Test func listingNumbersSlotsLikeBpftool() throws {
        var asm = Assembler()
        asm.mov(.r0, 0)
        asm.mov(.r1, .r10)
        asm.add(.r1, -8)
        asm.store(.word, .r10, -4, .r1)
        asm.loadMapFD(.r1, 12)
        asm.mov(.r2, .r10)
        asm.call(.mapLookupElem)
        asm.jump(.eq, .r0, 0, to: "out")
        asm.atomic(.fetchAdd, .doubleWord, .r0, 0, .r1)
        asm.label("out")
        asm.exit()
        let listing = Disassembler().text(try asm.assemble())
        #expect(listing == """
               0: (b7) r0 = 0
               1: (bf) r1 = r10
               2: (07) r1 += -8
               3: (63) *(u32 *)(r10 -4) = r1
               4: (18) r1 = map[id:12]
               6: (bf) r2 = r10
               7: (85) call bpf_map_lookup_elem#1
               8: (15) if r0 == 0x0 goto pc+1
               9: (db) r1 = atomic64_fetch_add((u64 *)(r0 +0), r1)
              10: (95) exit

            """)
    }

    @Test func rawOpcodes() {
        let program = [DecodedInstruction.loadImmediate64(dst: .r1, .mapFD(12)), .exit].instructions
        #expect(Disassembler(showsOpcodes: true).lines(program) == [
            "   0: (18) r1 = map[id:12]",
            "       18 11 00 00 0c 00 00 00 00 00 00 00 00 00 00 00",
            "   2: (95) exit",
            "       95 00 00 00 00 00 00 00",
        ])
    }

    @Test func invalidSlotsAreShownNotTrapped() {
        let program = [Instruction(opcode: 0xff), Instruction(opcode: 0xb7, dst: 12), Instruction(opcode: 0x95)]
        #expect(Disassembler().lines(program) == [
            "   0: (ff) invalid: unknown opcode",
            "   1: (b7) invalid: invalid register r12",
            "   2: (95) exit",
        ])
    }
}
