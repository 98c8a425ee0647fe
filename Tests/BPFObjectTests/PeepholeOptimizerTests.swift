import Testing
@testable import BPFObject

@Suite struct PeepholeOptimizerTests {
    func optimized(_ build: (inout Assembler) -> Void, privateSlots: Set<Int16> = []) throws -> (PeepholeOptimizer.Result, [DecodedInstruction]) {
        var asm = Assembler()
        build(&asm)
        let result = PeepholeOptimizer.optimize(try asm.assemble(), privateSlots: privateSlots)
        return (result, try result.instructions.decodedInstructions())
    }

    @Test func dropsGotoZeroAndRetargetsJumpsAcrossIt() throws {
        let (result, program) = try optimized { asm in
            asm.jump(.eq, .r1, 0, to: "out")   // 0 → 3, becomes → 2
            asm.jump(to: "next")               // 1: goto +0
            asm.label("next")
            asm.mov(.r0, 1)                    // 2
            asm.label("out")
            asm.exit()                         // 3
        }
        #expect(program == [
            .conditionalJump(.eq, .bits64, dst: .r1, .immediate(0), offset: 1),
            .arithmetic(.mov, .bits64, dst: .r0, .immediate(1)),
            .exit,
        ])
        #expect(result.newIndex == [0, nil, 1, 2])
        #expect(result.remap(["a", "b", "c", "d"]) == ["a", "c", "d"])
    }

    @Test func forwardsAReloadOfTheSlotJustStored() throws {
        let (_, program) = try optimized { asm in
            asm.store(.doubleWord, .r10, -8, .r0)
            asm.mov(.r1, 5)                          // touches neither r0 nor the slot
            asm.load(.doubleWord, .r3, .r10, -8)     // → r3 = r0
            asm.load(.doubleWord, .r0, .r10, -8)     // → nothing: r0 already holds it
            asm.mov(.r2, .r10)
            asm.add(.r2, -8)
            asm.call(helperID: 1)                    // the slot is still read through r2
            asm.exit()
        }
        #expect(program == [
            .store(.doubleWord, dst: .r10, offset: -8, .register(.r0)),
            .arithmetic(.mov, .bits64, dst: .r1, .immediate(5)),
            .arithmetic(.mov, .bits64, dst: .r3, .register(.r0)),
            .arithmetic(.mov, .bits64, dst: .r2, .register(.r10)),
            .arithmetic(.add, .bits64, dst: .r2, .immediate(-8)),
            .call(.helper(1)),
            .exit,
        ])
    }

    @Test func forwardsAStoredImmediate() throws {
        let (_, program) = try optimized { asm in
            asm.store(.doubleWord, .r10, -16, immediate: -3)
            asm.load(.doubleWord, .r4, .r10, -16)
            asm.exit()
        }
        #expect(program[1] == .arithmetic(.mov, .bits64, dst: .r4, .immediate(-3)))
    }

    @Test func keepsReloadsThatMayNotSeeTheStoredValue() throws {
        // Each case puts something between the store and the reload that forwarding must respect.
        let blockers: [(String, (inout Assembler) -> Void)] = [
            ("the register is overwritten", { $0.mov(.r0, 7) }),
            ("a helper call clobbers r0-r5", { $0.call(helperID: 5) }),
            ("the slot is overwritten", { $0.store(.word, .r10, -4, immediate: 1) }),
            ("a store through another pointer", { $0.store(.doubleWord, .r1, 0, immediate: 1) }),
            ("a branch", { $0.jump(.eq, .r1, 0, to: "out") }),
        ]
        for (reason, blocker) in blockers {
            let (_, program) = try optimized { asm in
                asm.store(.doubleWord, .r10, -8, .r0)
                blocker(&asm)
                asm.load(.doubleWord, .r2, .r10, -8)
                asm.label("out")
                asm.exit()
            }
            #expect(program.contains(.load(.doubleWord, dst: .r2, src: .r10, offset: -8)), "\(reason)")
        }
        // A jump landing on the reload: the value there depends on the path taken.
        let (_, program) = try optimized { asm in
            asm.jump(.eq, .r1, 0, to: "reload")
            asm.store(.doubleWord, .r10, -8, .r0)
            asm.label("reload")
            asm.load(.doubleWord, .r2, .r10, -8)
            asm.exit()
        }
        #expect(program.contains(.load(.doubleWord, dst: .r2, src: .r10, offset: -8)))
        // A narrower reload of the same slot is not the stored 64-bit value.
        let (_, narrow) = try optimized { asm in
            asm.store(.doubleWord, .r10, -8, .r0)
            asm.load(.word, .r2, .r10, -8)
            asm.exit()
        }
        #expect(narrow.contains(.load(.word, dst: .r2, src: .r10, offset: -8)))
    }

    @Test func dropsStoresToPrivateSlotsNothingReads() throws {
        let (_, program) = try optimized({ asm in
            asm.store(.doubleWord, .r10, -8, .r0)    // private, reload forwarded → dead
            asm.load(.doubleWord, .r3, .r10, -8)
            asm.store(.doubleWord, .r10, -16, .r0)   // private but read later: kept
            asm.store(.doubleWord, .r10, -24, .r0)   // not private: kept
            asm.mov(.r0, 0)                          // the reload below is not forwardable
            asm.load(.doubleWord, .r0, .r10, -16)
            asm.exit()
        }, privateSlots: [-8, -16])
        #expect(program == [
            .arithmetic(.mov, .bits64, dst: .r3, .register(.r0)),
            .store(.doubleWord, dst: .r10, offset: -16, .register(.r0)),
            .store(.doubleWord, dst: .r10, offset: -24, .register(.r0)),
            .arithmetic(.mov, .bits64, dst: .r0, .immediate(0)),
            .load(.doubleWord, dst: .r0, src: .r10, offset: -16),
            .exit,
        ])
    }

    @Test func distrustsAPrivateSlotWhoseAddressIsTaken() throws {
        let (_, program) = try optimized({ asm in
            asm.store(.doubleWord, .r10, -8, .r0)
            asm.mov(.r2, .r10)
            asm.add(.r2, -8)
            asm.call(helperID: 1)
            asm.exit()
        }, privateSlots: [-8])
        #expect(program.first == .store(.doubleWord, dst: .r10, offset: -8, .register(.r0)))
    }

    @Test func dropsWritesToCalleeSavedRegistersNobodyReads() throws {
        let (_, program) = try optimized { asm in
            asm.mov(.r9, .r1)          // never read: dropped
            asm.mov(.r6, .r1)          // read below: kept
            asm.call(helperID: 14)
            asm.mov(.r0, .r6)
            asm.exit()
        }
        #expect(program == [
            .arithmetic(.mov, .bits64, dst: .r6, .register(.r1)),
            .call(.helper(14)),
            .arithmetic(.mov, .bits64, dst: .r0, .register(.r6)),
            .exit,
        ])
    }

    @Test func leavesProgramsWithSubprogramsAlone() throws {
        var asm = Assembler()
        asm.jump(to: "next")
        asm.label("next")
        asm.call(subprogram: "sub")
        asm.exit()
        asm.label("sub")
        asm.mov(.r0, 0)
        asm.exit()
        let program = try asm.assemble()
        #expect(PeepholeOptimizer.optimize(program).instructions == program)
    }

    @Test func keepsLddwPairsTogetherAndBackwardJumpsRight() throws {
        let (result, program) = try optimized { asm in
            asm.label("top")
            asm.loadImmediate64(.r1, 0x1_0000_0000)   // 0-1
            asm.jump(to: "skip")                      // 2: goto +0
            asm.label("skip")
            asm.jump(.ne, .r1, 0, to: "top")          // 3 → 0
            asm.exit()                                // 4
        }
        #expect(program == [
            .loadImmediate64(dst: .r1, .value(0x1_0000_0000)),
            .conditionalJump(.ne, .bits64, dst: .r1, .immediate(0), offset: -3),
            .exit,
        ])
        #expect(result.newIndex == [0, 1, nil, 2, 3])
    }

    @Test func definesTheMoveTargetDirectlyWhenTheSourceDies() throws {
        let (_, program) = try optimized { asm in
            asm.load(.doubleWord, .r0, .r9, 24)
            asm.mov(.r6, .r0)              // r0 is overwritten by the call: load into r6
            asm.call(helperID: 5)
            asm.mov(.r0, .r6)
            asm.exit()
        }
        #expect(program == [
            .load(.doubleWord, dst: .r6, src: .r9, offset: 24),
            .call(.helper(5)),
            .arithmetic(.mov, .bits64, dst: .r0, .register(.r6)),
            .exit,
        ])
    }

    @Test func keepsTheMoveWhenTheSourceIsStillNeeded() throws {
        let cases: [(String, (inout Assembler) -> Void)] = [
            ("read later", { $0.add(.r6, .r0) }),
            ("live across a branch", { $0.jump(.eq, .r1, 0, to: "out") }),
            ("the call reads r1", { $0.call(helperID: 5) }),
        ]
        for (reason, after) in cases {
            let (_, program) = try optimized { asm in
                asm.mov(.r1, 3)
                asm.mov(.r6, .r1)
                after(&asm)
                asm.label("out")
                asm.mov(.r0, .r1)
                asm.add(.r0, .r6)
                asm.exit()
            }
            #expect(program.contains(.arithmetic(.mov, .bits64, dst: .r6, .register(.r1))), "\(reason)")
        }
        // Not a pure definition: r0 += 8 reads r0.
        let (_, program) = try optimized { asm in
            asm.add(.r0, 8)
            asm.mov(.r3, .r0)
            asm.call(helperID: 4)
            asm.exit()
        }
        #expect(program.contains(.arithmetic(.mov, .bits64, dst: .r3, .register(.r0))))
    }
}
