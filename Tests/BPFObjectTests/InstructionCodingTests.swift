import Testing
@testable import BPFObject

/// Decode → encode over the whole opcode space with edge values in every field.
@Suite struct InstructionCodingTests {
    static let registers: [UInt8] = [0, 10, 11, 12, 15]
    static let offsets: [Int16] = [0, 1, -1, 8, 16, 32, Int16.max, Int16.min]
    static let immediates: [Int32] = [0, 1, -1, 16, 24, 32, 64, 0x01, 0x40, 0x41, 0x50, 0xa1, 0xe1, 0xf1, 0x100, 0x110,
                                      0x10000, Int32.max, Int32.min]
    static let secondImmediates: [Int32] = [0, 7, -1]

    /// Opcode bytes the ISA (plus the kernel-internal `nospec`) defines, derived by hand from
    /// instruction-set.rst; the exhaustive scan must find exactly these.
    static let expectedOpcodes: Set<UInt8> = {
        var codes: Set<UInt8> = []
        for op in ALUOperation.allCases {
            for x: UInt8 in [0, 8] {
                if op == .neg && x == 8 { continue }
                codes.insert(0x04 | op.rawValue | x)
                if op == .end && x == 8 { continue }
                codes.insert(0x07 | op.rawValue | x)
            }
        }
        for condition in JumpCondition.allCases where condition != .always {
            for x: UInt8 in [0, 8] {
                codes.insert(0x05 | condition.rawValue | x)
                codes.insert(0x06 | condition.rawValue | x)
            }
        }
        codes.formUnion([0x05, 0x0d, 0x85, 0x95, 0xe5, 0x06])
        for size in AccessSize.allCases {
            codes.insert(0x01 | 0x60 | size.rawValue)
            if size != .doubleWord { codes.insert(0x01 | 0x80 | size.rawValue) }
            codes.insert(0x02 | 0x60 | size.rawValue)
            codes.insert(0x03 | 0x60 | size.rawValue)
            codes.insert(0x03 | 0xc0 | size.rawValue)
            if size != .doubleWord {
                codes.insert(0x00 | 0x20 | size.rawValue)
                codes.insert(0x00 | 0x40 | size.rawValue)
            }
        }
        codes.insert(0x18)
        codes.insert(0xc2)
        return codes
    }()

    @Test func everyValidEncodingRoundTrips() {
        var validOpcodes: Set<UInt8> = []
        var validCount = 0
        for opcode in 0...UInt8.max {
            for dst in Self.registers {
                for src in Self.registers {
                    for offset in Self.offsets {
                        for immediate in Self.immediates {
                            let slot = Instruction(opcode: opcode, dst: dst, src: src, offset: offset, immediate: immediate)
                            let seconds = opcode == OpcodeByte.loadImm64 ? Self.secondImmediates : [0]
                            for high in seconds {
                                let program = [slot, Instruction(opcode: 0, immediate: high)]
                                guard case .success(let operation) = DecodedInstruction.decode(program, at: 0) else { continue }
                                validOpcodes.insert(opcode)
                                validCount += 1
                                let encoded = operation.instructions
                                // Plain comparisons in the hot loop; #expect only on a mismatch.
                                if encoded != Array(program.prefix(operation.slotCount)) || DecodedInstruction.decode(encoded, at: 0) != .success(operation) {
                                    Issue.record("\(slot) decodes to \(operation), which encodes to \(encoded)")
                                    return
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(validOpcodes == Self.expectedOpcodes,
                "unexpected: \(validOpcodes.subtracting(Self.expectedOpcodes).map { String($0, radix: 16) }), missing: \(Self.expectedOpcodes.subtracting(validOpcodes).map { String($0, radix: 16) })")
        #expect(Self.expectedOpcodes.count == 130)
        #expect(validCount > 10_000)
    }

    /// Every DecodedInstruction value built from its parts encodes to slots that decode back to it.
    @Test func everyOperationRoundTrips() {
        var operations: [DecodedInstruction] = []
        let regs: [Register] = [.r0, .r5, .r10]
        let imms: [Int32] = [0, -1, 1, Int32.max, Int32.min]
        let offs: [Int16] = [0, -4, Int16.max, Int16.min]
        for width in Width.allCases {
            for op in ArithmeticOperation.allCases {
                for dst in regs {
                    for src in regs { operations.append(.arithmetic(op, width, dst: dst, .register(src))) }
                    for imm in imms { operations.append(.arithmetic(op, width, dst: dst, .immediate(imm))) }
                }
            }
            for bits in SignExtension.allCases where width == .bits64 || bits != .from32 {
                operations.append(.moveSignExtend(width, dst: .r1, src: .r2, fromBits: bits))
            }
            operations.append(.negate(width, dst: .r3))
            for condition in JumpCondition.allCases where condition != .always {
                for off in offs {
                    operations.append(.conditionalJump(condition, width, dst: .r1, .register(.r2), offset: off))
                    for imm in imms { operations.append(.conditionalJump(condition, width, dst: .r1, .immediate(imm), offset: off)) }
                }
            }
        }
        for kind in ByteSwapKind.allCases {
            for bits in ByteSwapWidth.allCases { operations.append(.byteSwap(kind, bits: bits, dst: .r4)) }
        }
        operations += [.addressSpaceCast(dst: .r1, src: .r2, toSpace: 1, fromSpace: 0),
                       .addressSpaceCast(dst: .r1, src: .r2, toSpace: 0, fromSpace: 1),
                       .perCPUAddress(dst: .r0, src: .r0)]
        for size in AccessSize.allCases {
            for off in offs {
                operations.append(.load(size, dst: .r0, src: .r10, offset: off))
                if size != .doubleWord { operations.append(.loadSignExtend(size, dst: .r0, src: .r1, offset: off)) }
                operations.append(.store(size, dst: .r10, offset: off, .register(.r1)))
                operations.append(.store(size, dst: .r10, offset: off, .immediate(-7)))
                operations.append(.loadAcquire(size, dst: .r2, src: .r3, offset: off))
                operations.append(.storeRelease(size, dst: .r2, offset: off, src: .r3))
                if size == .word || size == .doubleWord {
                    for atomic in AtomicOperation.allCases {
                        operations.append(.atomic(atomic, size, dst: .r1, offset: off, src: .r2))
                    }
                }
            }
            if size != .doubleWord {
                operations.append(.loadPacketAbsolute(size, immediate: 12))
                operations.append(.loadPacketIndirect(size, src: .r6, immediate: -2))
            }
        }
        let values: [Immediate64] = [.value(0), .value(UInt64.max), .value(0x1234_5678_9abc_def0), .mapFD(3), .mapFD(-1),
                                     .mapValue(map: 4, offset: 16), .mapValue(map: 4, offset: UInt32.max),
                                     .btfVariable(btfID: 1000, moduleFD: 0), .btfVariable(btfID: 1000, moduleFD: 9),
                                     .function(offset: 5), .function(offset: -3), .mapIndex(0), .mapIndexValue(index: 2, offset: 8)]
        for value in values { operations.append(.loadImmediate64(dst: .r1, value)) }
        operations += [.jump(offset: 0), .jump(offset: -1), .jump(offset: Int16.max), .jumpLong(offset: Int32.min),
                       .jumpLong(offset: 100_000), .jumpIndirect(dst: .r3), .mayGoto(offset: 7), .exit, .speculationBarrier,
                       .call(.helper(1)), .call(.helper(-5)), .call(.helper(0x7fff_0000)), .call(.subprogram(offset: 3)),
                       .call(.subprogram(offset: -10)), .call(.translatedSubprogram(index: 1, offset: 4)),
                       .call(.kfunc(btfID: 12345, moduleIndex: 0)), .call(.kfunc(btfID: 12345, moduleIndex: 2))]

        for operation in operations {
            let slots = operation.instructions
            #expect(slots.count == operation.slotCount)
            #expect(DecodedInstruction.decode(slots, at: 0) == .success(operation), "\(operation)")
            // Through bytes, too.
            #expect([Instruction](decodingInstructions: slots.encoded()) == slots)
        }
        #expect(operations.count > 1000)
    }

    @Test func programDecodingSkipsBothSlotsOfLddw() throws {
        var asm = Assembler()
        asm.loadImmediate64(.r1, 0xdead_beef_0000_0001)
        asm.mov(.r0, 0)
        asm.exit()
        let program = try asm.assemble()
        let decoded = program.decodedSlots()
        #expect(decoded.map(\.index) == [0, 2, 3])
        #expect(try program.decodedInstructions() == [.loadImmediate64(dst: .r1, .value(0xdead_beef_0000_0001)),
                                             .arithmetic(.mov, .bits64, dst: .r0, .immediate(0)), .exit])
        #expect(try program.decodedInstructions().instructions == program)
    }
}

@Suite struct MalformedInstructionTests {
    private func reason(_ program: [Instruction], at index: Int = 0) -> InstructionDecodingError.Reason? {
        if case .failure(let error) = DecodedInstruction.decode(program, at: index) { return error.reason }
        return nil
    }

    @Test func truncatedLddw() {
        let lone = [Instruction(opcode: 0x18, dst: 1, immediate: 5)]
        #expect(reason(lone) == .truncatedLoadImmediate64)
        let decoded = lone.decodedSlots()
        #expect(decoded.count == 1)
        #expect(throws: InstructionDecodingError.self) { try lone.decodedInstructions() }
        #expect(Disassembler().lines(lone) == ["   0: (18) invalid: lddw is missing its second slot"])
    }

    @Test func malformedSecondSlot() {
        #expect(reason([Instruction(opcode: 0x18), Instruction(opcode: 0xb7)]) == .malformedLoadImmediate64SecondSlot)
        #expect(reason([Instruction(opcode: 0x18), Instruction(opcode: 0, dst: 1)]) == .malformedLoadImmediate64SecondSlot)
        // A map fd reference has no upper half.
        #expect(reason([Instruction(opcode: 0x18, src: 1), Instruction(opcode: 0, immediate: 1)]) == .malformedLoadImmediate64SecondSlot)
        #expect(reason([Instruction(opcode: 0x18, src: 7), Instruction(opcode: 0)]) == .invalidField("lddw pseudo source 7"))
    }

    @Test func unknownOpcodesAndFields() {
        #expect(reason([Instruction(opcode: 0x00)]) == .unknownOpcode)       // LD|IMM|W
        #expect(reason([Instruction(opcode: 0x8d)]) == .unknownOpcode)       // callx
        #expect(reason([Instruction(opcode: 0x8c)]) == .unknownOpcode)       // neg with X
        #expect(reason([Instruction(opcode: 0xdf, immediate: 16)]) == .unknownOpcode) // ALU64 END|X
        #expect(reason([Instruction(opcode: 0xe4)]) == .unknownOpcode)       // ALU code 0xe0
        #expect(reason([Instruction(opcode: 0x0e)]) == .unknownOpcode)       // JMP32 JA|X
        #expect(reason([Instruction(opcode: 0x96)]) == .unknownOpcode)       // JMP32 exit
        #expect(reason([Instruction(opcode: 0xb7, dst: 12)]) == .invalidRegister(12))
        #expect(DecodedInstruction.decode([Instruction(opcode: 0xb7, dst: 11)], at: 0) == .success(.arithmetic(.mov, .bits64, dst: .ax, .immediate(0))))
        #expect(reason([Instruction(opcode: 0xbf, dst: 1, src: 15)]) == .invalidRegister(15))
        #expect(reason([Instruction(opcode: 0xb7, src: 1)]) == .reservedField("src_reg"))
        #expect(reason([Instruction(opcode: 0x0f, dst: 1, src: 2, immediate: 1)]) == .reservedField("imm"))
        #expect(reason([Instruction(opcode: 0x07, dst: 1, offset: 1)]) == .reservedField("off"))
        #expect(reason([Instruction(opcode: 0x37, dst: 1, offset: 2)]) == .invalidField("div/mod offset 2"))
        #expect(reason([Instruction(opcode: 0xd4, dst: 1, immediate: 24)]) == .invalidField("byte swap width 24"))
        #expect(reason([Instruction(opcode: 0xbc, dst: 1, src: 2, offset: 32)]) == .invalidField("mov offset 32"))
        #expect(reason([Instruction(opcode: 0x95, immediate: 1)]) == .reservedField("imm"))
        #expect(reason([Instruction(opcode: 0xdb, dst: 1, src: 2, immediate: 0x02)]) == .invalidField("atomic operation 0x2"))
        #expect(reason([Instruction(opcode: 0xcb, dst: 1, src: 2, immediate: 0x00)]) == .invalidField("atomic size"))
        #expect(reason([Instruction(opcode: 0x85, src: 3)]) == .invalidField("call kind 3"))
        #expect(reason([Instruction(opcode: 0x85, offset: 1, immediate: 1)]) == .reservedField("off"))
        #expect(reason([Instruction(opcode: 0xe5, src: 1)]) == .reservedField("src_reg"))
        #expect(reason([Instruction(opcode: 0x06, offset: 1)]) == .reservedField("off"))
        #expect(reason([Instruction(opcode: 0x99, dst: 1, src: 2)]) == .unknownOpcode) // LDX MEMSX DW
        #expect(reason([]) == .missingInstruction)
    }

    /// Arbitrary bytes never trap the decoder or the disassembler.
    @Test func randomBytesNeverTrap() {
        var generator = SplitMix64(seed: 0x5eed)
        var invalid = 0
        for _ in 0..<2000 {
            let length = Int(generator.next() % 64)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let program = [Instruction](decodingInstructions: bytes)
            let decoded = program.decodedSlots()
            invalid += decoded.filter { if case .failure = $0.result { true } else { false } }.count
            let lines = Disassembler().lines(program)
            #expect(lines.count == decoded.count)
            for item in decoded {
                if case .success(let operation) = item.result {
                    #expect(operation.instructions == Array(program[item.index..<item.index + operation.slotCount]))
                }
            }
        }
        #expect(invalid > 0)
    }
}

/// A small deterministic generator so the fuzz test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
