/// Where a relocated field lives in the target kernel (the values a field relocation reads).
public struct CORETargetField: Sendable, Hashable {
    /// Byte offset of the load that covers the field (for bitfields: the aligned container).
    public var byteOffset: UInt32
    /// Bytes to load (for bitfields: the smallest power of two covering the bits).
    public var byteSize: UInt32
    public var isSigned: Bool
    /// Bit offset from the root and bit width; `bitSize` is 0 unless the field is a bitfield.
    public var bitOffset: UInt32
    public var bitSize: UInt32
}

/// One CO-RE relocation resolved against the target kernel BTF.
public struct CORERelocationResult: Sendable, Hashable {
    /// Position of the record in the list given to `apply` (libbpf's `relo #N`).
    public var relocationIndex: Int
    public var instructionIndex: Int
    public var kind: CORERelocationKind
    public var localTypeID: UInt32
    public var accessString: String
    /// The value the compiler encoded (computed from the local BTF).
    public var localValue: UInt64
    /// The value patched in (meaningless when `poisoned`).
    public var targetValue: UInt64
    /// The instruction was replaced by `call 0xbad2310` (and its second slot, for lddw).
    public var poisoned: Bool
    /// Why it was poisoned.
    public var reason: String?
    /// The matched target root type and the index in `targets` of the BTF holding it; nil when
    /// nothing matched (and for TYPE_ID_LOCAL, which needs no target).
    public var targetTypeID: UInt32?
    public var targetBTFIndex: Int?
    /// Field relocations with a match: the field's layout in the target.
    public var targetField: CORETargetField?
    /// The local and matched target specs in libbpf's log format.
    public var localSpec: String
    public var targetSpec: String?
    /// Load/store size change applied (bytes), when the field size differs.
    public var memorySizeChange: (from: UInt32, to: UInt32)? {
        get { memorySizeFrom == memorySizeTo ? nil : (memorySizeFrom, memorySizeTo) }
    }
    var memorySizeFrom: UInt32 = 0
    var memorySizeTo: UInt32 = 0
    /// Whether the instruction's current value must equal `localValue` (libbpf "validate").
    var validate = true
    /// The field changed size in a way a narrower/wider load cannot express (libbpf poisons).
    var failsMemorySizeAdjustment = false
}

/// The CO-RE relocation engine: resolves BTF.ext relocation records against target kernel
/// BTF and patches instructions the way libbpf does (tools/lib/bpf/relo_core.c). Pure: the
/// caller passes the target BTFs.
public enum CORERelocator {
    /// The helper id libbpf calls in place of an instruction it could not relocate, so the
    /// verifier fails with "invalid func unknown#195896080" only if the code is reachable.
    public static let poisonHelperID: Int32 = 0xbad2310

    /// Resolves `records` (from .BTF.ext, for the program section whose instructions are given)
    /// and patches `instructions` in place. `targets`: vmlinux BTF first, then module BTFs
    /// (split on vmlinux); modules are searched only when vmlinux has no candidate, like libbpf.
    /// Throws `CORERelocationError` for what libbpf rejects (leaving `instructions` unchanged);
    /// relocations whose target is missing poison their instruction instead.
    public static func apply(records: [CORERelocationRecord], to instructions: inout [Instruction], localBTF: BTF, targets: [BTF]) throws -> [CORERelocationResult] {
        var candidates = CORECandidateFinder(targets: targets)
        var results: [CORERelocationResult] = []
        results.reserveCapacity(records.count)
        // Patch a copy so a failing relocation leaves the caller's instructions untouched.
        var patched = instructions
        for (relocationIndex, record) in records.enumerated() {
            let instructionIndex = Int(record.instructionByteOffset / 8)
            do {
                var result = try resolve(record, relocationIndex: relocationIndex, localBTF: localBTF, candidates: &candidates)
                try patch(&patched, with: &result)
                results.append(result)
            } catch let failure as COREFailure {
                throw CORERelocationError(relocationIndex: relocationIndex, instructionIndex: instructionIndex,
                                          problem: failure.problem, detail: failure.detail)
            } catch let error as CORERelocationError {
                throw error
            } catch {
                throw CORERelocationError(relocationIndex: relocationIndex, instructionIndex: instructionIndex,
                                          problem: .invalidType, detail: "\(error)")
            }
        }
        instructions = patched
        return results
    }

    /// Resolves records without patching anything (the values libbpf would patch in).
    public static func resolve(records: [CORERelocationRecord], localBTF: BTF, targets: [BTF]) throws -> [CORERelocationResult] {
        var candidates = CORECandidateFinder(targets: targets)
        return try records.enumerated().map { relocationIndex, record in
            do {
                return try resolve(record, relocationIndex: relocationIndex, localBTF: localBTF, candidates: &candidates)
            } catch let failure as COREFailure {
                throw CORERelocationError(relocationIndex: relocationIndex, instructionIndex: Int(record.instructionByteOffset / 8),
                                          problem: failure.problem, detail: failure.detail)
            } catch {
                throw CORERelocationError(relocationIndex: relocationIndex, instructionIndex: Int(record.instructionByteOffset / 8),
                                          problem: .invalidType, detail: "\(error)")
            }
        }
    }

    // MARK: Resolution (bpf_core_calc_relo_insn)

    static func resolve(_ record: CORERelocationRecord, relocationIndex: Int, localBTF: BTF, candidates: inout CORECandidateFinder) throws -> CORERelocationResult {
        guard record.instructionByteOffset % 8 == 0 else {
            throw COREFailure(.badInstruction, "instruction offset \(record.instructionByteOffset) is not a multiple of 8")
        }
        guard let kind = record.kind else {
            throw COREFailure(.unsupportedKind, "unknown CO-RE relocation kind \(record.rawKind)")
        }
        guard localBTF.isValid(record.typeID), record.typeID != 0 else {
            throw COREFailure(.invalidType, "local type id \(record.typeID) does not exist")
        }
        let access: String
        do { access = try localBTF.string(at: record.accessStringOffset) } catch {
            throw COREFailure(.malformedAccessString, "access string offset \(record.accessStringOffset) is outside the BTF strings")
        }
        let local = try COREAccessSpec.parse(btf: localBTF, rootTypeID: record.typeID, kind: kind, access: access)
        var result = CORERelocationResult(
            relocationIndex: relocationIndex, instructionIndex: record.instructionIndex, kind: kind,
            localTypeID: record.typeID, accessString: access, localValue: 0, targetValue: 0, poisoned: false,
            reason: nil, targetTypeID: nil, targetBTFIndex: nil, targetField: nil, localSpec: local.description, targetSpec: nil)

        if kind == .typeIDLocal {
            // Needs no target: the id in the program's own BTF.
            result.localValue = UInt64(record.typeID)
            result.targetValue = UInt64(record.typeID)
            result.validate = false
            return result
        }
        let localType = try localBTF.type(record.typeID)
        let localName = localType.name
        guard !localName.isEmpty else {
            throw COREFailure(.anonymousLocalType, "relocation <\(kind.name)> against anonymous type [\(record.typeID)] \(localType.kind.rawName.lowercased()) (candidate search needs a name)")
        }

        var chosen: (resolution: CORECalculation, spec: COREAccessSpec, candidate: CORECandidate)?
        for candidate in try candidates.candidates(for: localType, in: localBTF) {
            let targetBTF = candidates.targets[candidate.btfIndex]
            guard let spec = try COREAccessSpec.match(local, target: targetBTF, targetID: candidate.typeID) else { continue }
            let calculation = try CORECalculation(kind: kind, local: local, target: spec)
            if let (previous, previousSpec, _) = chosen {
                guard previousSpec.bitOffset == spec.bitOffset else {
                    throw COREFailure(.ambiguousTargets, "field offset ambiguity: \(previousSpec.description) and \(spec.description) are at different offsets (\(previousSpec.bitOffset) != \(spec.bitOffset) bits)")
                }
                guard previous.poison == calculation.poison, previous.targetValue == calculation.targetValue else {
                    throw COREFailure(.ambiguousTargets, "relocation decision ambiguity: \(previousSpec.description) gives \(previous.poison ? "poison" : "\(previous.targetValue)"), \(spec.description) gives \(calculation.poison ? "poison" : "\(calculation.targetValue)")")
                }
            } else {
                chosen = (calculation, spec, candidate)
            }
        }

        let calculation: CORECalculation
        if let (matched, spec, candidate) = chosen {
            calculation = matched
            result.targetTypeID = candidate.typeID
            result.targetBTFIndex = candidate.btfIndex
            result.targetSpec = spec.description
            if kind.isFieldBased, let layout = try? CORECalculation.fieldLayout(spec), layout.named {
                result.targetField = layout.field
            }
        } else {
            // No candidate fits: existence relocations answer 0, the others poison.
            calculation = try CORECalculation(kind: kind, local: local, target: nil)
            if calculation.poison { result.reason = "no matching target type for \(local.description)" }
        }
        result.localValue = calculation.localValue
        result.targetValue = calculation.targetValue
        result.poisoned = calculation.poison
        result.validate = calculation.validate
        result.failsMemorySizeAdjustment = calculation.failsMemorySizeAdjustment
        result.memorySizeFrom = calculation.localMemorySize
        result.memorySizeTo = calculation.targetMemorySize
        return result
    }

    // MARK: Patching (bpf_core_patch_insn)

    static let ldImm64Opcode: UInt8 = 0x18  // BPF_LD | BPF_IMM | BPF_DW
    static let callOpcode: UInt8 = 0x85  // BPF_JMP | BPF_CALL

    static func poison(_ instructions: inout [Instruction], at index: Int) {
        instructions[index] = Instruction(opcode: callOpcode, dst: 0, src: 0, offset: 0, immediate: poisonHelperID)
    }

    static func patch(_ instructions: inout [Instruction], with result: inout CORERelocationResult) throws {
        let index = result.instructionIndex
        guard index < instructions.count else {
            throw COREFailure(.badInstruction, "instruction #\(index) is past the end of the program (\(instructions.count) instructions)")
        }
        let instruction = instructions[index]
        let isLoadImm64 = instruction.opcode == ldImm64Opcode
        if result.poisoned {
            // Both slots of lddw, so the verifier does not complain about "unknown opcode 00".
            if isLoadImm64 && index + 1 < instructions.count { poison(&instructions, at: index + 1) }
            poison(&instructions, at: index)
            return
        }
        let expected = result.localValue, new = result.targetValue
        switch OpcodeClass(rawValue: instruction.opcode & 0x07)! {
        case .alu, .alu64:
            guard instruction.opcode & 0x08 == 0 else {
                throw COREFailure(.badInstruction, "insn #\(index) (ALU/ALU64) uses a register source, not an immediate")
            }
            if result.validate && UInt64(bitPattern: Int64(instruction.immediate)) != expected {
                throw COREFailure(.unexpectedInstructionValue, "unexpected insn #\(index) (ALU/ALU64) value: got \(instruction.immediate), exp \(expected) -> \(new)")
            }
            instructions[index].immediate = Int32(truncatingIfNeeded: new)
        case .ldx, .st, .stx:
            if result.validate && UInt64(bitPattern: Int64(instruction.offset)) != expected {
                throw COREFailure(.unexpectedInstructionValue, "unexpected insn #\(index) (LDX/ST/STX) value: got \(instruction.offset), exp \(expected) -> \(new)")
            }
            guard new <= UInt64(Int16.max) else {
                throw COREFailure(.valueOutOfRange, "insn #\(index) (LDX/ST/STX) value too big: \(new)")
            }
            if result.failsMemorySizeAdjustment {
                // libbpf poisons: the field changed size and is neither a pointer nor unsigned.
                result.poisoned = true
                result.reason = "field size changes from \(result.memorySizeFrom) to \(result.memorySizeTo) bytes and is not a pointer or unsigned integer"
                poison(&instructions, at: index)
                return
            }
            instructions[index].offset = Int16(new)
            if result.memorySizeFrom != result.memorySizeTo {
                let current = AccessSize(rawValue: instruction.opcode & 0x18)!.byteCount
                guard current == result.memorySizeFrom else {
                    throw COREFailure(.badInstruction, "insn #\(index) (LDX/ST/STX) unexpected mem size: got \(current), exp \(result.memorySizeFrom)")
                }
                guard let size = AccessSize(byteCount: Int(result.memorySizeTo)) else {
                    throw COREFailure(.badInstruction, "insn #\(index) (LDX/ST/STX) invalid new mem size: \(result.memorySizeTo)")
                }
                instructions[index].opcode = instruction.opcode & ~0x18 | size.rawValue
            }
        case .ld:
            guard isLoadImm64, index + 1 < instructions.count, instruction.src == 0, instruction.offset == 0 else {
                throw COREFailure(.badInstruction, "insn #\(index) (LDIMM64) has unexpected form")
            }
            let second = instructions[index + 1]
            guard second.opcode == 0, second.dst == 0, second.src == 0, second.offset == 0 else {
                throw COREFailure(.badInstruction, "insn #\(index) (LDIMM64) has unexpected form")
            }
            let current = UInt64(UInt32(bitPattern: instruction.immediate)) | UInt64(UInt32(bitPattern: second.immediate)) << 32
            if result.validate && current != expected {
                throw COREFailure(.unexpectedInstructionValue, "unexpected insn #\(index) (LDIMM64) value: got \(current), exp \(expected) -> \(new)")
            }
            instructions[index].immediate = Int32(truncatingIfNeeded: new)
            instructions[index + 1].immediate = Int32(truncatingIfNeeded: new >> 32)
        case .jmp, .jmp32:
            throw COREFailure(.badInstruction, "trying to relocate unrecognized insn #\(index), code:0x\(String(instruction.opcode, radix: 16))")
        }
    }
}

extension CORERelocationResult: CustomStringConvertible {
    /// One line in the spirit of libbpf's debug log:
    /// `relo #3: <byte_off> [2] struct task_struct.pid (0:0 @ offset 0) -> [114] struct task_struct.pid (0:92 @ offset 1264): insn #12 0 -> 1264`.
    public var description: String {
        var text = "relo #\(relocationIndex): <\(kind.name)> \(localSpec)"
        if let targetSpec { text += " -> \(targetSpec)" } else if kind != .typeIDLocal { text += " -> no matching target" }
        if poisoned {
            text += ": insn #\(instructionIndex) poisoned"
            if let reason { text += " (\(reason))" }
        } else {
            text += ": insn #\(instructionIndex) \(localValue) -> \(targetValue)"
            if let change = memorySizeChange { text += ", load size \(change.from) -> \(change.to)" }
        }
        return text
    }
}
