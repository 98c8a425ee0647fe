import Testing
@testable import BPFObject

/// Hand-built local/target BTF pairs for each CO-RE relocation kind, checked against the values
/// libbpf's rules give (tools/lib/bpf/relo_core.c).
@Suite struct CORERelocationTests {
    // Opcodes used below.
    static let ldxW: UInt8 = 0x61, ldxDW: UInt8 = 0x79, ldxB: UInt8 = 0x71, movImm64: UInt8 = 0xb7, lddw: UInt8 = 0x18

    /// A local BTF under construction with its relocation records.
    struct Local {
        var builder = BTFBuilder()
        var records: [CORERelocationRecord] = []
        mutating func relocate(instruction: Int, type: UInt32, access: String, _ kind: CORERelocationKind) {
            records.append(CORERelocationRecord(instructionByteOffset: UInt32(instruction * 8), typeID: type,
                                                accessStringOffset: builder.addString(access), rawKind: kind.rawValue))
        }
        mutating func relocate(instruction: Int, type: UInt32, access: String, rawKind: UInt32) {
            records.append(CORERelocationRecord(instructionByteOffset: UInt32(instruction * 8), typeID: type,
                                                accessStringOffset: builder.addString(access), rawKind: rawKind))
        }
    }

    static func apply(_ local: Local, _ targets: [BTFBuilder], _ instructions: inout [Instruction]) throws -> [CORERelocationResult] {
        let localBTF = try BTF(local.builder.encode())
        let targetBTFs = try targets.map { try BTF($0.encode()) }
        return try CORERelocator.apply(records: local.records, to: &instructions, localBTF: localBTF, targets: targetBTFs)
    }

    static func poisoned(_ instruction: Instruction) -> Bool {
        instruction == Instruction(opcode: 0x85, immediate: 195896080)
    }

    /// struct task_struct { long state; int pid; int tgid; } in the "kernel".
    static func kernelTask() -> BTFBuilder {
        var kernel = BTFBuilder()
        let int = kernel.addInt("int", size: 4, encoding: .signed)
        let long = kernel.addInt("long", size: 8, encoding: .signed)
        kernel.addStruct("task_struct", size: 16, members: [.init("state", long, bitOffset: 0), .init("pid", int, bitOffset: 64), .init("tgid", int, bitOffset: 96)])
        return kernel
    }

    @Test func fieldOffsetFollowsTheKernelLayoutThroughAFlavor() throws {
        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let task = local.builder.addStruct("task_struct___mine", size: 8, members: [.init("pid", int, bitOffset: 0), .init("tgid", int, bitOffset: 32)])
        local.relocate(instruction: 0, type: task, access: "0:1", .fieldByteOffset)
        local.relocate(instruction: 1, type: task, access: "0:0", .fieldByteSize)
        var instructions = [Instruction(opcode: Self.ldxW, dst: 0, src: 1, offset: 4), Instruction(opcode: Self.movImm64, immediate: 4)]
        let results = try Self.apply(local, [Self.kernelTask()], &instructions)
        #expect(instructions[0].offset == 12)
        #expect(instructions[0].opcode == Self.ldxW)
        #expect(instructions[1].immediate == 4)
        #expect(results[0].localValue == 4 && results[0].targetValue == 12 && !results[0].poisoned)
        #expect(results[0].targetTypeID == 3 && results[0].targetBTFIndex == 0)
        #expect(results[0].targetField == CORETargetField(byteOffset: 12, byteSize: 4, isSigned: true, bitOffset: 96, bitSize: 0))
        #expect(results[0].localSpec == "[2] struct task_struct___mine.tgid (0:1 @ offset 4)")
        #expect(results[0].targetSpec == "[3] struct task_struct.tgid (0:2 @ offset 12)")
    }

    @Test func missingFieldPoisonsButExistenceAnswersZero() throws {
        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let task = local.builder.addStruct("task_struct", size: 8, members: [.init("pid", int, bitOffset: 0), .init("gone", int, bitOffset: 32)])
        local.relocate(instruction: 0, type: task, access: "0:1", .fieldByteOffset)
        local.relocate(instruction: 1, type: task, access: "0:1", .fieldExists)
        local.relocate(instruction: 2, type: task, access: "0:0", .fieldExists)
        local.relocate(instruction: 3, type: task, access: "0:1", .fieldByteSize)
        var instructions = [
            Instruction(opcode: Self.ldxW, dst: 0, src: 1, offset: 4), Instruction(opcode: Self.movImm64, immediate: 1),
            Instruction(opcode: Self.movImm64, immediate: 1),
            Instruction(opcode: Self.lddw, dst: 2, immediate: 4), Instruction(opcode: 0, immediate: 0),
        ]
        let results = try Self.apply(local, [Self.kernelTask()], &instructions)
        #expect(Self.poisoned(instructions[0]))
        #expect(results[0].poisoned && results[0].reason != nil)
        #expect(instructions[1].immediate == 0 && !results[1].poisoned)
        #expect(instructions[2].immediate == 1)
        // lddw: both slots become the poison call.
        #expect(Self.poisoned(instructions[3]) && Self.poisoned(instructions[4]))
    }

    @Test func loadSizeFollowsAnUnsignedFieldButASignedOneIsPoisoned() throws {
        var local = Local()
        let u32 = local.builder.addInt("unsigned int", size: 4)
        let s32 = local.builder.addInt("int", size: 4, encoding: .signed)
        let s = local.builder.addStruct("sock_info", size: 8, members: [.init("flags", u32, bitOffset: 0), .init("count", s32, bitOffset: 32)])
        local.relocate(instruction: 0, type: s, access: "0:0", .fieldByteOffset)
        local.relocate(instruction: 1, type: s, access: "0:1", .fieldByteOffset)
        var kernel = BTFBuilder()
        let u64 = kernel.addInt("unsigned long", size: 8)
        let s64 = kernel.addInt("long", size: 8, encoding: .signed)
        kernel.addStruct("sock_info", size: 24, members: [.init("pad", u64, bitOffset: 0), .init("flags", u64, bitOffset: 64), .init("count", s64, bitOffset: 128)])
        var instructions = [Instruction(opcode: Self.ldxW, dst: 0, src: 1, offset: 0), Instruction(opcode: Self.ldxW, dst: 0, src: 1, offset: 4)]
        let results = try Self.apply(local, [kernel], &instructions)
        #expect(instructions[0] == Instruction(opcode: Self.ldxDW, dst: 0, src: 1, offset: 8))
        #expect(results[0].memorySizeChange?.from == 4 && results[0].memorySizeChange?.to == 8)
        #expect(Self.poisoned(instructions[1]) && results[1].poisoned)
    }

    @Test func bitfieldShiftsAndSignedness() throws {
        var local = Local()
        let u32 = local.builder.addInt("unsigned int", size: 4)
        let s32 = local.builder.addInt("int", size: 4, encoding: .signed)
        let s = local.builder.addStruct("flags_holder", size: 4, members: [.init("wide", u32, bitOffset: 0, bitfieldSize: 20), .init("tiny", s32, bitOffset: 20, bitfieldSize: 3)])
        for (index, kind) in [CORERelocationKind.fieldByteOffset, .fieldByteSize, .fieldLShiftU64, .fieldRShiftU64, .fieldSigned].enumerated() {
            local.relocate(instruction: index, type: s, access: "0:0", kind)
        }
        local.relocate(instruction: 5, type: s, access: "0:1", .fieldSigned)
        local.relocate(instruction: 6, type: s, access: "0:1", .fieldLShiftU64)
        var kernel = BTFBuilder()
        let ku32 = kernel.addInt("unsigned int", size: 4)
        let ks32 = kernel.addInt("int", size: 4, encoding: .signed)
        // wide: 20 bits at bit 30 straddles the 32-bit unit → one aligned 8-byte load.
        kernel.addStruct("flags_holder", size: 8, members: [.init("tiny", ks32, bitOffset: 0, bitfieldSize: 3), .init("wide", ku32, bitOffset: 30, bitfieldSize: 20)])
        // Local values: wide at bit 0 of a 4-byte unit: off 0, size 4, lshift 64-20, rshift 44, unsigned.
        var instructions = [Int32(0), 4, 44, 44, 0, 1, 64 - 23].map { Instruction(opcode: Self.movImm64, immediate: $0) }
        let results = try Self.apply(local, [kernel], &instructions)
        #expect(instructions.map(\.immediate) == [0, 8, 14, 44, 0, 1, 61])
        #expect(results[0].targetField == CORETargetField(byteOffset: 0, byteSize: 8, isSigned: false, bitOffset: 30, bitSize: 20))
    }

    @Test func bitfieldTooWideForOneLoadIsAnError() throws {
        var local = Local()
        let u64 = local.builder.addInt("unsigned long", size: 8)
        let s = local.builder.addStruct("odd", size: 8, members: [.init("f", u64, bitOffset: 0, bitfieldSize: 60)])
        local.relocate(instruction: 0, type: s, access: "0:0", .fieldByteOffset)
        var kernel = BTFBuilder()
        let ku64 = kernel.addInt("unsigned long", size: 8)
        kernel.addStruct("odd", size: 16, members: [.init("f", ku64, bitOffset: 12, bitfieldSize: 60)])
        var instructions = [Instruction(opcode: Self.movImm64, immediate: 0)]
        #expect {
            try Self.apply(local, [kernel], &instructions)
        } throws: { ($0 as? CORERelocationError)?.problem == .unsatisfiableBitfield }
    }

    @Test func enumValuesByFlavorlessEnumeratorName() throws {
        var local = Local()
        let mapType = local.builder.addEnum("bpf_map_type___local", values: [("BPF_MAP_TYPE_RINGBUF", 99), ("BPF_MAP_TYPE_GONE", 5), ("BIG___v2", 1)])
        local.relocate(instruction: 0, type: mapType, access: "0", .enumValueValue)
        local.relocate(instruction: 2, type: mapType, access: "0", .enumValueExists)
        local.relocate(instruction: 3, type: mapType, access: "1", .enumValueExists)
        local.relocate(instruction: 4, type: mapType, access: "1", .enumValueValue)
        local.relocate(instruction: 5, type: mapType, access: "2", .enumValueValue)
        var kernel = BTFBuilder()
        kernel.addEnum("bpf_map_type", values: [("BPF_MAP_TYPE_HASH", 1), ("BPF_MAP_TYPE_RINGBUF", 27), ("BIG", 0x8000_0000)])
        var instructions = [
            Instruction(opcode: Self.lddw, dst: 1, immediate: 99), Instruction(opcode: 0),
            Instruction(opcode: Self.movImm64, immediate: 1), Instruction(opcode: Self.movImm64, immediate: 1),
            Instruction(opcode: Self.movImm64, immediate: 5),
            Instruction(opcode: Self.lddw, dst: 1, immediate: 1), Instruction(opcode: 0),
        ]
        let results = try Self.apply(local, [kernel], &instructions)
        #expect(instructions[0].immediate == 27 && instructions[1].immediate == 0)
        #expect(instructions[2].immediate == 1 && instructions[3].immediate == 0)
        #expect(Self.poisoned(instructions[4]))
        // A 32-bit enumerator is widened as signed, like libbpf's `__s32 val`.
        #expect(results[4].targetValue == 0xffff_ffff_8000_0000)
        #expect(instructions[5].immediate == Int32(bitPattern: 0x8000_0000) && instructions[6].immediate == -1)
        #expect(results[0].localSpec == "[1] enum bpf_map_type___local::BPF_MAP_TYPE_RINGBUF = 99")
    }

    @Test func enum64TargetIsCompatibleWithA32BitLocalEnum() throws {
        var local = Local()
        let e = local.builder.addEnum("wide_enum", values: [("W_ONE", 1)])
        local.relocate(instruction: 0, type: e, access: "0", .enumValueValue)
        var kernel = BTFBuilder()
        kernel.addEnum("wide_enum", size: 8, values: [("W_ONE", 0x1_0000_0001)])
        var instructions = [Instruction(opcode: Self.lddw, immediate: 1), Instruction(opcode: 0)]
        _ = try Self.apply(local, [kernel], &instructions)
        #expect(instructions[0].immediate == 1 && instructions[1].immediate == 1)
    }

    @Test func typeRelocations() throws {
        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let task = local.builder.addStruct("task_struct", size: 8, members: [.init("pid", int, bitOffset: 0)])
        let missing = local.builder.addStruct("no_such_struct", size: 4, members: [.init("x", int, bitOffset: 0)])
        let pidType = local.builder.addTypedef("pid_t", to: int)
        for (index, kind) in [CORERelocationKind.typeIDLocal, .typeIDTarget, .typeExists, .typeSize, .typeMatches].enumerated() {
            local.relocate(instruction: index, type: task, access: "0", kind)
        }
        for (index, kind) in [CORERelocationKind.typeIDTarget, .typeExists, .typeSize, .typeMatches].enumerated() {
            local.relocate(instruction: 5 + index, type: missing, access: "0", kind)
        }
        local.relocate(instruction: 9, type: pidType, access: "0", .typeMatches)
        local.relocate(instruction: 10, type: pidType, access: "0", .typeSize)
        var kernel = Self.kernelTask()
        let ku32 = kernel.addInt("unsigned int", size: 4)
        kernel.addTypedef("pid_t", to: ku32)  // unsigned in the kernel: does not match a signed int
        // task_struct matches: struct sizes are not compared, only the local members.
        var instructions = [Int32(2), 2, 1, 8, 1, 3, 1, 4, 1, 1, 4].map { Instruction(opcode: Self.movImm64, immediate: $0) }
        let results = try Self.apply(local, [kernel], &instructions)
        #expect(instructions.map(\.immediate) == [2, 3, 1, 16, 1, 0, 0, 0, 0, 0, 4])
        #expect(!results.contains { $0.poisoned })
        #expect(results[0].targetTypeID == nil)
    }

    @Test func typeMatchesComparesMembersEnumsAndForwardsBehindPointers() throws {
        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let node = local.builder.addForward("node")
        let pointer = local.builder.addPointer(to: node)
        let holder = local.builder.addStruct("holder", size: 16, members: [.init("next", pointer, bitOffset: 0), .init("count", int, bitOffset: 64)])
        let e = local.builder.addEnum("color", values: [("RED", 0)])
        local.relocate(instruction: 0, type: holder, access: "0", .typeMatches)
        local.relocate(instruction: 1, type: e, access: "0", .typeMatches)
        var kernel = BTFBuilder()
        let kint = kernel.addInt("int", size: 4, encoding: .signed)
        let knode = kernel.addStruct("node", size: 4, members: [.init("v", kint, bitOffset: 0)])
        let kpointer = kernel.addPointer(to: knode)
        // Extra members and a different order still match.
        kernel.addStruct("holder", size: 24, members: [.init("count", kint, bitOffset: 0), .init("extra", kint, bitOffset: 32), .init("next", kpointer, bitOffset: 64)])
        kernel.addEnum("color", values: [("GREEN", 1), ("RED", 7)])
        var instructions = [Instruction(opcode: Self.movImm64, immediate: 1), Instruction(opcode: Self.movImm64, immediate: 1)]
        _ = try Self.apply(local, [kernel], &instructions)
        #expect(instructions[0].immediate == 1 && instructions[1].immediate == 1)
    }

    @Test func ambiguousCandidatesWithDifferentOffsetsFail() throws {
        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let s = local.builder.addStruct("twin", size: 4, members: [.init("x", int, bitOffset: 0)])
        local.relocate(instruction: 0, type: s, access: "0:0", .fieldByteOffset)
        var kernel = BTFBuilder()
        let kint = kernel.addInt("int", size: 4, encoding: .signed)
        kernel.addStruct("twin", size: 8, members: [.init("x", kint, bitOffset: 32)])
        kernel.addStruct("twin___v2", size: 8, members: [.init("x", kint, bitOffset: 0)])
        var instructions = [Instruction(opcode: Self.ldxW, src: 1)]
        #expect {
            try Self.apply(local, [kernel], &instructions)
        } throws: { ($0 as? CORERelocationError)?.problem == .ambiguousTargets }

        // The same answer from several candidates is fine.
        var agreeing = BTFBuilder()
        let aint = agreeing.addInt("int", size: 4, encoding: .signed)
        agreeing.addStruct("twin", size: 8, members: [.init("x", aint, bitOffset: 32)])
        agreeing.addStruct("twin___v2", size: 8, members: [.init("y", aint, bitOffset: 0), .init("x", aint, bitOffset: 32)])
        var again = [Instruction(opcode: Self.ldxW, src: 1)]
        _ = try Self.apply(local, [agreeing], &again)
        #expect(again[0].offset == 4)
    }

    @Test func modulesAreSearchedOnlyWhenVmlinuxHasNoCandidate() throws {
        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let conn = local.builder.addStruct("nf_conn", size: 4, members: [.init("mark", int, bitOffset: 0)])
        local.relocate(instruction: 0, type: conn, access: "0:0", .fieldByteOffset)
        var module = BTFBuilder()
        let mint = module.addInt("int", size: 4, encoding: .signed)
        module.addStruct("nf_conn", size: 16, members: [.init("pad", mint, bitOffset: 0), .init("mark", mint, bitOffset: 64)])
        var instructions = [Instruction(opcode: Self.ldxW, src: 1)]
        let results = try Self.apply(local, [Self.kernelTask(), module], &instructions)
        #expect(instructions[0].offset == 8 && results[0].targetBTFIndex == 1)

        var vmlinux = Self.kernelTask()
        let vint = vmlinux.addInt("int", size: 4, encoding: .signed)
        vmlinux.addStruct("nf_conn", size: 8, members: [.init("mark", vint, bitOffset: 32)])
        var again = [Instruction(opcode: Self.ldxW, src: 1)]
        let resultsWithVmlinux = try Self.apply(local, [vmlinux, module], &again)
        #expect(again[0].offset == 4 && resultsWithVmlinux[0].targetBTFIndex == 0)
    }

    /// A real split module BTF (ids continue after vmlinux's, names may live in either string
    /// section): candidates come from the module's own types, and vmlinux still wins when it has one.
    @Test func splitModuleBTF() throws {
        let vmlinuxBuilder = Self.kernelTask()
        let vmlinux = try BTF(vmlinuxBuilder.encode())
        func moduleBTF(_ structName: String) throws -> BTF {
            var module = BTFBuilder()
            let shift = UInt32(vmlinux.totalStringLength)
            let name = module.addString(structName) + shift
            let pad = module.addString("pad") + shift
            let mark = module.addString("mark") + shift
            // struct NAME { int pad; int mark; } with `int` from vmlinux (id 1).
            module.addRaw([name, BTFBuilder.info(.struct, vlen: 2), 8, pad, 1, 0, mark, 1, 32])
            return try BTF(module.encode(), base: vmlinux)
        }
        let module = try moduleBTF("nf_conn")
        #expect(module.firstTypeID == UInt32(vmlinux.typeCount))

        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let conn = local.builder.addStruct("nf_conn___local", size: 4, members: [.init("mark", int, bitOffset: 0)])
        let task = local.builder.addStruct("task_struct", size: 4, members: [.init("pid", int, bitOffset: 0)])
        local.relocate(instruction: 0, type: conn, access: "0:0", .fieldByteOffset)
        local.relocate(instruction: 1, type: conn, access: "0", .typeIDTarget)
        local.relocate(instruction: 3, type: task, access: "0:0", .fieldByteOffset)
        let localBTF = try BTF(local.builder.encode())
        var instructions = [
            Instruction(opcode: Self.ldxW, src: 1), Instruction(opcode: Self.lddw, immediate: Int32(conn)), Instruction(opcode: 0),
            Instruction(opcode: Self.ldxW, src: 1),
        ]
        let results = try CORERelocator.apply(records: local.records, to: &instructions, localBTF: localBTF,
                                              targets: [vmlinux, try moduleBTF("task_struct"), module])
        #expect(instructions[0].offset == 4 && results[0].targetBTFIndex == 2)
        #expect(instructions[1].immediate == Int32(module.firstTypeID))
        // task_struct is in vmlinux: the module's same-named struct is not a candidate.
        #expect(instructions[3].offset == 8 && results[2].targetBTFIndex == 0)
    }

    @Test func anonymousMembersArraysAndFlexibleArrays() throws {
        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let index = local.builder.addInt("__ARRAY_SIZE_TYPE__", size: 4)
        let four = local.builder.addArray(of: int, index: index, count: 4)
        let flexible = local.builder.addArray(of: int, index: index, count: 0)
        let s = local.builder.addStruct("packet", size: 24, members: [.init("len", int, bitOffset: 0), .init("slots", four, bitOffset: 32), .init("data", flexible, bitOffset: 160)])
        local.relocate(instruction: 0, type: s, access: "0:0", .fieldByteOffset)
        local.relocate(instruction: 1, type: s, access: "0:1:2", .fieldByteOffset)
        local.relocate(instruction: 2, type: s, access: "0:2:9", .fieldByteOffset)
        local.relocate(instruction: 3, type: s, access: "0:1:3", .fieldExists)
        local.relocate(instruction: 4, type: s, access: "1:0", .fieldByteOffset)
        var kernel = BTFBuilder()
        let kint = kernel.addInt("int", size: 4, encoding: .signed)
        let kindex = kernel.addInt("__ARRAY_SIZE_TYPE__", size: 4)
        let three = kernel.addArray(of: kint, index: kindex, count: 3)
        let kflexible = kernel.addArray(of: kint, index: kindex, count: 0)
        let inner = kernel.addStruct("", size: 4, members: [.init("len", kint, bitOffset: 0)])
        let union = kernel.addComposite(.union, name: "", size: 4, members: [.init("", inner, bitOffset: 0), .init("raw", kint, bitOffset: 0)])
        kernel.addStruct("packet", size: 24, members: [.init("hdr", kint, bitOffset: 0), .init("", union, bitOffset: 32), .init("slots", three, bitOffset: 64), .init("data", kflexible, bitOffset: 160)])
        var instructions = [
            Instruction(opcode: Self.ldxW, src: 1, offset: 0), Instruction(opcode: Self.ldxW, src: 1, offset: 12),
            Instruction(opcode: Self.ldxW, src: 1, offset: 56), Instruction(opcode: Self.movImm64, immediate: 1),
            Instruction(opcode: Self.ldxW, src: 1, offset: 24),
        ]
        let results = try Self.apply(local, [kernel], &instructions)
        #expect(instructions[0].offset == 4)
        #expect(results[0].targetSpec == "[7] struct packet.len (0:1:0:0 @ offset 4)")
        #expect(instructions[1].offset == 16)
        #expect(instructions[2].offset == 56)
        // slots[3] is past the end of the kernel's 3-element array: no match.
        #expect(instructions[3].immediate == 0)
        // Pointer arithmetic scales by the target struct size.
        #expect(instructions[4].offset == 24 + 4)
    }

    @Test(arguments: ["", "0:", ":0", "0::1", "a", "0:x", "-1", "0:-1", "0:5", "0:0:0", "99999999999", "0 :1", "+0"])
    func malformedAccessStringsAreErrors(access: String) throws {
        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let s = local.builder.addStruct("task_struct", size: 4, members: [.init("pid", int, bitOffset: 0)])
        local.relocate(instruction: 0, type: s, access: access, .fieldByteOffset)
        var instructions = [Instruction(opcode: Self.ldxW, src: 1)]
        #expect {
            try Self.apply(local, [Self.kernelTask()], &instructions)
        } throws: { ($0 as? CORERelocationError)?.problem == .malformedAccessString }
    }

    @Test func malformedRecordsAreErrorsNeverTraps() throws {
        func attempt(_ build: (inout Local, UInt32) -> Void, instructions: [Instruction] = [Instruction(opcode: 0xb7)]) -> CORERelocationError.Problem? {
            var local = Local()
            let int = local.builder.addInt("int", size: 4, encoding: .signed)
            let s = local.builder.addStruct("task_struct", size: 4, members: [.init("pid", int, bitOffset: 0)])
            build(&local, s)
            var copy = instructions
            do { _ = try Self.apply(local, [Self.kernelTask()], &copy); return nil } catch let error as CORERelocationError { return error.problem } catch { return .invalidType }
        }
        #expect(attempt { $0.relocate(instruction: 0, type: $1, access: "0:0", rawKind: 77) } == .unsupportedKind)
        #expect(attempt { $0.relocate(instruction: 0, type: $1, access: "0:0", .typeExists) } == .malformedAccessString)
        #expect(attempt { $0.relocate(instruction: 5, type: $1, access: "0:0", .fieldByteOffset) } == .badInstruction)
        #expect(attempt { local, _ in local.relocate(instruction: 0, type: 999, access: "0:0", .fieldByteOffset) } == .invalidType)
        #expect(attempt { $0.relocate(instruction: 0, type: $1, access: "1", .enumValueValue) } == .malformedAccessString)
        #expect(attempt({ $0.relocate(instruction: 0, type: $1, access: "0:0", .fieldByteOffset) }, instructions: [Instruction(opcode: 0x61, offset: 3)]) == .unexpectedInstructionValue)
        #expect(attempt({ $0.relocate(instruction: 0, type: $1, access: "0:0", .fieldByteOffset) }, instructions: [Instruction(opcode: 0x05)]) == .badInstruction)
        #expect(attempt({ $0.relocate(instruction: 0, type: $1, access: "0:0", .fieldByteOffset) }, instructions: [Instruction(opcode: 0x0f)]) == .badInstruction)
        #expect(attempt { local, _ in
            let anonymous = local.builder.addStruct("", size: 4, members: [])
            local.relocate(instruction: 0, type: anonymous, access: "0", .typeExists)
        } == .anonymousLocalType)
        var bad = Local()
        bad.records = [CORERelocationRecord(instructionByteOffset: 0, typeID: 1, accessStringOffset: 9999, rawKind: 0)]
        _ = bad.builder.addInt("int", size: 4)
        var instructions = [Instruction(opcode: 0xb7)]
        #expect(throws: CORERelocationError.self) { try Self.apply(bad, [], &instructions) }
    }

    @Test func essentialNames() {
        #expect(CORETypeRules.essentialName("task_struct___mine") == "task_struct")
        #expect(CORETypeRules.essentialName("task_struct___a___b") == "task_struct___a")
        #expect(CORETypeRules.essentialName("a____b") == "a____b")
        #expect(CORETypeRules.essentialName("___x") == "___x")
        #expect(CORETypeRules.essentialName("x___") == "x___")
        #expect(CORETypeRules.essentialName("") == "")
    }
}

/// Random records, access strings and instructions against small BTF graphs (including a type
/// cycle through an array): every outcome must be a result or a CORERelocationError, never a trap
/// or a hang.
@Suite struct CORERelocationRobustnessTests {
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func graph(flavor: String, shift: UInt32) -> BTFBuilder {
        var builder = BTFBuilder()
        let int = builder.addInt("int", size: 4, encoding: .signed)
        let u8 = builder.addInt("unsigned char", size: 1)
        let index = builder.addInt("__ARRAY_SIZE_TYPE__", size: 4)
        let array = builder.addArray(of: int, index: index, count: 3)
        let empty = builder.addArray(of: int, index: index, count: 0)
        let inner = builder.addStruct("", size: 4, members: [.init("a", int, bitOffset: 0)])
        let e = builder.addEnum("kind\(flavor)", values: [("K_ONE", 1), ("K_TWO", -2)])
        let wide = builder.addEnum("wide\(flavor)", size: 8, values: [("W_BIG", 1 << 40)])
        let outer = builder.addStruct("outer\(flavor)", size: 40, members: [
            .init("x", int, bitOffset: shift), .init("", inner, bitOffset: 32 + shift), .init("arr", array, bitOffset: 64),
            .init("bits", u8, bitOffset: 160 + shift, bitfieldSize: 3), .init("k", e, bitOffset: 192), .init("w", wide, bitOffset: 256),
            .init("tail", empty, bitOffset: 320),
        ])
        let pointer = builder.addPointer(to: outer)
        builder.addTypedef("outer_t\(flavor)", to: outer)
        builder.addStruct("linked\(flavor)", size: 8, members: [.init("next", pointer, bitOffset: 0)])
        // A struct that contains itself through an array: sizes cannot be computed.
        let selfArrayID = UInt32(builder.typeCount + 2)
        let cyclic = builder.addStruct("cyclic", size: 4, members: [.init("me", selfArrayID, bitOffset: 0)])
        builder.addArray(of: cyclic, index: index, count: 1)
        _ = builder.addString("0")
        return builder
    }

    @Test func randomRecordsNeverTrap() throws {
        var random = SeededGenerator(state: 0x5EED)
        let tokens = ["0", "1", "2", "3", "4", "5", "6", "7", "9", "65535", "4294967295", ":", "::", "-1", "x", " "]
        var outcomes = (resolved: 0, results: 0, errors: 0)
        for round in 0..<3000 {
            var local = CORERelocationTests.Local()
            local.builder = Self.graph(flavor: round % 2 == 0 ? "" : "___v\(round % 3)", shift: 0)
            let typeCount = UInt32(local.builder.typeCount)
            for _ in 0..<Int.random(in: 1...2, using: &random) {
                var access = ""
                for _ in 0..<Int.random(in: 0...6, using: &random) { access += tokens.randomElement(using: &random)! }
                if Int.random(in: 0..<4, using: &random) > 0 { access = (0..<(Bool.random(using: &random) ? Int.random(in: 1...4, using: &random) : Int.random(in: 1...70, using: &random))).map { _ in String(Int.random(in: 0...3, using: &random)) }.joined(separator: ":") }
                local.relocate(instruction: Int.random(in: 0...5, using: &random), type: Bool.random(using: &random) ? 9 : UInt32.random(in: 0...typeCount + 2, using: &random),
                               access: access, rawKind: UInt32.random(in: 0...14, using: &random))
            }
            let target = Self.graph(flavor: "", shift: UInt32.random(in: 0...2, using: &random) * 8)
            var instructions = (0..<Int.random(in: 0...6, using: &random)).map { _ in
                Instruction(opcode: [0x61, 0x79, 0x71, 0x63, 0x62, 0xb7, 0x07, 0x18, 0x00, 0x85, 0x05, 0x0f, 0xbf].randomElement(using: &random)!,
                            dst: UInt8.random(in: 0...10, using: &random), src: UInt8.random(in: 0...10, using: &random),
                            offset: Int16.random(in: -2...40, using: &random), immediate: Int32.random(in: -2...40, using: &random))
            }
            let before = instructions
            do {
                let resolved = try CORERelocator.resolve(records: local.records, localBTF: BTF(local.builder.encode()), targets: [BTF(target.encode())])
                #expect(resolved.count == local.records.count)
                outcomes.resolved += 1
            } catch is CORERelocationError {}
            do {
                let results = try CORERelocationTests.apply(local, [target], &instructions)
                #expect(results.count == local.records.count)
                outcomes.results += 1
            } catch is CORERelocationError {
                #expect(instructions == before)
                outcomes.errors += 1
            }
        }
        // Both paths are exercised.
        #expect(outcomes.resolved > 50 && outcomes.errors > 1000, "\(outcomes)")
    }
}

extension CORERelocationTests {
    @Test func resultDescriptionReadsLikeLibbpfsLog() throws {
        var local = Local()
        let int = local.builder.addInt("int", size: 4, encoding: .signed)
        let task = local.builder.addStruct("task_struct", size: 8, members: [.init("pid", int, bitOffset: 0), .init("gone", int, bitOffset: 32)])
        local.relocate(instruction: 0, type: task, access: "0:0", .fieldByteOffset)
        local.relocate(instruction: 1, type: task, access: "0:1", .fieldByteOffset)
        var instructions = [Instruction(opcode: Self.ldxW, src: 1), Instruction(opcode: Self.ldxW, src: 1, offset: 4)]
        let results = try Self.apply(local, [Self.kernelTask()], &instructions)
        #expect(results[0].description == "relo #0: <byte_off> [2] struct task_struct.pid (0:0 @ offset 0) -> [3] struct task_struct.pid (0:1 @ offset 8): insn #0 0 -> 8")
        #expect(results[1].description == "relo #1: <byte_off> [2] struct task_struct.gone (0:1 @ offset 4) -> no matching target: insn #1 poisoned (no matching target type for [2] struct task_struct.gone (0:1 @ offset 4))")
    }
}

extension CORERelocationTests {
    /// An index past a local array's end is malformed (libbpf: -EINVAL), unless the array is a
    /// flexible last member; a non-last zero-length array gets no such leeway.
    @Test func localArrayBounds() throws {
        func attempt(_ access: String) -> CORERelocationError.Problem? {
            var local = Local()
            let int = local.builder.addInt("int", size: 4, encoding: .signed)
            let index = local.builder.addInt("__ARRAY_SIZE_TYPE__", size: 4)
            let four = local.builder.addArray(of: int, index: index, count: 4)
            let empty = local.builder.addArray(of: int, index: index, count: 0)
            let s = local.builder.addStruct("task_struct", size: 20, members: [
                .init("pid", four, bitOffset: 0), .init("gap", empty, bitOffset: 128), .init("tail", empty, bitOffset: 128),
            ])
            local.relocate(instruction: 0, type: s, access: access, .fieldExists)
            var instructions = [Instruction(opcode: Self.movImm64, immediate: 1)]
            do { _ = try Self.apply(local, [Self.kernelTask()], &instructions); return nil } catch let error as CORERelocationError { return error.problem } catch { return .invalidType }
        }
        #expect(attempt("0:0:3") == nil)
        #expect(attempt("0:0:4") == .malformedAccessString)
        #expect(attempt("0:2:100") == nil)
        #expect(attempt("0:1:0") == .malformedAccessString)
    }
}
