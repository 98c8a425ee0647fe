import BPFObject
import Foundation
import Testing
import TestSupport

/// CO-RE relocation against the real kernel BTF, compared with libbpf relocation by relocation.
/// Benchmarks/CORERelocation/core_relocations.bpf.c is compiled at test time against a vmlinux.h
/// written by BTFCHeaderWriter; libbpf (linked into a small C oracle built at test time, needs
/// libbpf-dev) opens and loads the object with debug logging, which reports every relocation's
/// specs and patched values, then prints the relocated instructions. CORERelocator resolves the
/// same records against /sys/kernel/btf/vmlinux and must agree on every spec, value, poisoning
/// and final instruction.
@Suite(.kernel, .serialized) struct CORELibbpfComparisonTests {
    static let sourceDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Benchmarks/CORERelocation")

    /// What libbpf logged and left behind for one relocation of one program.
    struct LibbpfRelocation {
        var localSpec: String?
        var matchedSpec: String?
        var poisonedInstructions: [Int] = []
        /// (instruction, field, old, new) for each "patched insn" line.
        var patches: [(instruction: Int, field: String, old: String, new: UInt64)] = []
    }

    struct LibbpfLog {
        var relocations: [String: [Int: LibbpfRelocation]] = [:]
        var instructions: [String: [Int: Instruction]] = [:]
    }

    /// Drops libbpf's `<kind> ` prefix from a spec.
    static func stripKind(_ spec: Substring) -> String {
        guard spec.hasPrefix("<"), let end = spec.firstIndex(of: ">") else { return String(spec) }
        return String(spec[spec.index(end, offsetBy: 2)...])
    }

    static func parse(_ log: String) -> LibbpfLog {
        var parsed = LibbpfLog()
        for rawLine in log.split(separator: "\n") {
            let line = rawLine.hasPrefix("libbpf: ") ? rawLine.dropFirst(8) : rawLine[...]
            if line.hasPrefix("INSN ") {
                let fields = line.split(separator: " ")
                guard fields.count == 8, let index = Int(fields[2]), let code = UInt8(fields[3]), let dst = UInt8(fields[4]),
                      let src = UInt8(fields[5]), let offset = Int16(fields[6]), let imm = Int32(fields[7]) else { continue }
                parsed.instructions[String(fields[1]), default: [:]][index] = Instruction(opcode: code, dst: dst, src: src, offset: offset, immediate: imm)
                continue
            }
            // prog 'NAME': relo #N: REST
            guard line.hasPrefix("prog '"), let nameEnd = line.dropFirst(6).firstIndex(of: "'") else { continue }
            let program = String(line[line.index(line.startIndex, offsetBy: 6)..<nameEnd])
            let afterName = line[nameEnd...].dropFirst(2)
            guard afterName.hasPrefix(" relo #"), let colon = afterName.firstIndex(of: ":"),
                  let number = Int(afterName[afterName.index(afterName.startIndex, offsetBy: 7)..<colon]) else { continue }
            let rest = afterName[colon...].dropFirst(2)
            var relocation = parsed.relocations[program]?[number] ?? LibbpfRelocation()
            if rest.hasPrefix("<") {
                relocation.localSpec = stripKind(rest)
            } else if rest.hasPrefix("matching candidate #") {
                if relocation.matchedSpec == nil, let space = rest.dropFirst(20).firstIndex(of: " ") {
                    relocation.matchedSpec = stripKind(rest[space...].dropFirst())
                }
            } else if rest.hasPrefix("substituting insn #") {
                if let index = Int(rest.dropFirst(19).prefix { $0.isNumber }) { relocation.poisonedInstructions.append(index) }
            } else if rest.hasPrefix("patched insn #") {
                // patched insn #I (CLASS) FIELD OLD -> NEW
                let words = rest.split(separator: " ")
                if words.count >= 8, let index = Int(words[2].dropFirst()), let new = UInt64(words[words.count - 1]) {
                    relocation.patches.append((index, String(words[words.count - 4]), String(words[words.count - 3]), new))
                }
            }
            parsed.relocations[program, default: [:]][number] = relocation
        }
        return parsed
    }

    /// Writes vmlinux.h, compiles `source` from Benchmarks/CORERelocation with clang and the
    /// libbpf oracle with cc, and runs the oracle on the object: (object path, libbpf's output).
    static func compileAndRunLibbpf(_ source: String, in work: URL, vmlinux: BTF) throws -> (object: String, log: String) {
        try BTFCHeaderWriter(btf: vmlinux).header().write(to: work.appendingPathComponent("vmlinux.h"), atomically: true, encoding: .utf8)
        // A bare file name is one of the fixtures next to the oracle; a path is a generated source.
        let sourcePath = source.hasPrefix("/") ? source : sourceDirectory.appendingPathComponent(source).path
        let object = work.appendingPathComponent(URL(fileURLWithPath: source).lastPathComponent.replacingOccurrences(of: ".c", with: ".o")).path
        let compile = try ChildProcess.run("/opt/swift/usr/bin/clang", [
            "-target", "bpf", "-g", "-O2", "-I", work.path, "-c", sourcePath, "-o", object,
        ])
        try #require(compile.status == 0, "clang failed: \(compile.stderr)")
        let oracle = work.appendingPathComponent("libbpf_relocation_oracle").path
        let build = try ChildProcess.run("/usr/bin/cc", [
            "-O1", sourceDirectory.appendingPathComponent("libbpf_relocation_oracle.c").path, "-lbpf", "-o", oracle,
        ])
        try #require(build.status == 0, "building the libbpf oracle failed (is libbpf-dev installed?): \(build.stderr)")
        let oracleRun = try ChildProcess.run(oracle, [object])
        try #require(oracleRun.status == 0, "libbpf could not open the object: \(oracleRun.output)")
        return (object, oracleRun.stdout)
    }

    static func workDirectory() throws -> URL {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-core-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        return work
    }

    /// The object's BTF, BTF.ext and, per CO-RE section, the program name and its instructions.
    static func loadObject(_ path: String) throws -> (btf: BTF, sections: [(program: String, records: [CORERelocationRecord], instructions: [Instruction])]) {
        let elf = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        let localBTF = try BTF(Array(elf.data(of: try #require(elf.section(named: ".BTF")))))
        let ext = try BTFExt(Array(elf.data(of: try #require(elf.section(named: ".BTF.ext")))))
        let symbols = try elf.symbols()
        var sections: [(program: String, records: [CORERelocationRecord], instructions: [Instruction])] = []
        for section in ext.coreRelocations {
            let elfSection = try #require(elf.section(named: try ext.sectionName(section, in: localBTF)))
            let program = try #require(symbols.first { Int($0.sectionIndex) == elfSection.index && $0.type == .function && $0.value == 0 }).name
            sections.append((program, section.records, [Instruction](decodingInstructions: Array(try elf.data(of: elfSection)))))
        }
        return (localBTF, sections)
    }

    @Test func relocationsMatchLibbpf() throws {
        let work = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let vmlinux = try BTF(contentsOfFile: "/sys/kernel/btf/vmlinux")
        let (object, log) = try Self.compileAndRunLibbpf("core_relocations.bpf.c", in: work, vmlinux: vmlinux)
        let libbpf = Self.parse(log)
        let (localBTF, sections) = try Self.loadObject(object)

        var compared = 0
        var kindsSeen = Set<UInt32>()
        var poisonedCount = 0
        for (program, records, original) in sections {
            var instructions = original
            let results = try CORERelocator.apply(records: records, to: &instructions, localBTF: localBTF, targets: [vmlinux])
            let expected = try #require(libbpf.relocations[program], "libbpf logged no relocations for \(program)")
            let libbpfInstructions = try #require(libbpf.instructions[program], "libbpf printed no instructions for \(program)")
            #expect(results.count == expected.count, "\(program): \(results.count) relocations, libbpf \(expected.count)")

            for result in results {
                let context = "\(program) relo #\(result.relocationIndex) <\(result.kind.name)> \(result.localSpec)"
                kindsSeen.insert(result.kind.rawValue)
                guard let theirs = expected[result.relocationIndex] else {
                    Issue.record("\(context): libbpf did not log it")
                    continue
                }
                compared += 1
                #expect(theirs.localSpec == result.localSpec, "\(context): local spec")
                #expect(theirs.matchedSpec == result.targetSpec, "\(context): matched target spec")
                if result.poisoned {
                    poisonedCount += 1
                    #expect(theirs.poisonedInstructions.contains(result.instructionIndex), "\(context): libbpf did not poison it (\(theirs.patches))")
                } else {
                    #expect(theirs.poisonedInstructions.isEmpty, "\(context): libbpf poisoned it, we patched \(result.targetValue)")
                    let valuePatch = theirs.patches.first { $0.field != "mem_sz" }
                    #expect(valuePatch?.instruction == result.instructionIndex, "\(context): instruction index")
                    #expect(valuePatch?.new == result.targetValue, "\(context): libbpf patched \(valuePatch.map { "\($0.new)" } ?? "nothing"), we \(result.targetValue)")
                    let sizePatch = theirs.patches.first { $0.field == "mem_sz" }
                    #expect(sizePatch?.new == result.memorySizeChange.map { UInt64($0.to) }, "\(context): load size change")
                }
                // The instruction (both slots of lddw) must be exactly what libbpf left.
                var slots = [result.instructionIndex]
                if original[result.instructionIndex].opcode == 0x18 { slots.append(result.instructionIndex + 1) }
                for slot in slots {
                    #expect(libbpfInstructions[slot] == instructions[slot], "\(context): insn #\(slot) ours \(instructions[slot]) libbpf \(String(describing: libbpfInstructions[slot]))")
                }
            }
        }
        // Cost of relocating the whole object again (vmlinux's name index is built by now).
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for (_, records, original) in sections {
                var instructions = original
                _ = try CORERelocator.apply(records: records, to: &instructions, localBTF: localBTF, targets: [vmlinux])
            }
        }
        print("CO-RE: \(compared) relocations resolved against vmlinux in \(elapsed)")
        // The fixture exercises every kind, poisoning included: the comparison cannot pass empty.
        #expect(compared >= 60, "only \(compared) relocations compared")
        #expect(kindsSeen == Set(CORERelocationKind.allCases.map(\.rawValue)), "kinds not exercised: \(Set(CORERelocationKind.allCases.map(\.rawValue)).subtracting(kindsSeen))")
        #expect(poisonedCount >= 4)
    }

    /// libbpf refuses an unsigned 32-bit enumerator with the top bit set (it sign-extends
    /// enumerator values, so the compiled-in value does not validate): so must we, at the same
    /// relocation, while the one before it is patched identically.
    @Test func refusesWhatLibbpfRefuses() throws {
        let work = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let vmlinux = try BTF(contentsOfFile: "/sys/kernel/btf/vmlinux")
        let (object, log) = try Self.compileAndRunLibbpf("core_rejected.bpf.c", in: work, vmlinux: vmlinux)
        // libbpf: "prog 'core_rejected': relo #1: unexpected insn #5 (LDIMM64) value: ..."
        let refusal = try #require(log.split(separator: "\n").first { $0.contains("unexpected insn #") },
                                   "libbpf accepted the relocation:\n\(log)")
        let relocationNumber = try #require(Int(refusal.split(separator: "#")[1].prefix { $0.isNumber }))
        let instructionNumber = try #require(Int(refusal.split(separator: "#")[2].prefix { $0.isNumber }))
        #expect(log.contains("LOAD RESULT -22"))

        let (localBTF, sections) = try Self.loadObject(object)
        let section = try #require(sections.first)
        var instructions = section.instructions
        #expect {
            try CORERelocator.apply(records: section.records, to: &instructions, localBTF: localBTF, targets: [vmlinux])
        } throws: { error in
            guard let error = error as? CORERelocationError else { return false }
            return error.problem == .unexpectedInstructionValue && error.relocationIndex == relocationNumber
                && error.instructionIndex == instructionNumber
        }
    }

    /// Writes a BPF program relocating every member of some big kernel structs (each field kind;
    /// the signedness and shift kinds for integer and enum members, bitfields included), the size,
    /// match and target id of many kernel structs and the value of many enumerators.
    static func generatedSource(vmlinux: BTF) throws -> (source: String, relocations: Int) {
        var source = """
        #include "vmlinux.h"
        #define SEC(name) __attribute__((section(name), used))
        #define field_info(field, kind) __builtin_preserve_field_info(field, kind)
        __u64 out[64];
        // Volatile stores keep every value (and so every relocation) alive.
        #define keep(value) (*(volatile __u64 *)&out[0] = (value))

        """
        var count = 0
        func uniqueID(_ name: String, _ kind: BTFKind) -> UInt32? {
            let ids = vmlinux.typeIDs(named: name, kind: kind)
            return ids.count == 1 ? ids[0] : nil
        }
        /// Named members reachable as `p->name`, through anonymous structs and unions.
        func accessibleMembers(of id: UInt32, depth: Int = 0) throws -> [BTFMember] {
            guard depth < 8 else { return [] }
            var found: [BTFMember] = []
            for member in try vmlinux.type(id).members {
                if member.name.isEmpty {
                    let inner = try vmlinux.skipTypedefs(member.type)
                    if try vmlinux.kind(of: inner).isComposite { found += try accessibleMembers(of: inner, depth: depth + 1) }
                } else {
                    found.append(member)
                }
            }
            return found
        }
        for structName in ["task_struct", "sk_buff", "tcp_sock", "sock", "file", "inode", "mm_struct", "net_device"] {
            guard let id = uniqueID(structName, .struct) else { continue }
            source += "SEC(\"raw_tp/all_\(structName)\")\nint all_\(structName)(unsigned long long *ctx)\n{\n"
            source += "    struct \(structName) *p = (struct \(structName) *)ctx[0];\n"
            for member in try accessibleMembers(of: id) {
                let resolved = try vmlinux.type(vmlinux.skipTypedefs(member.type))
                var kinds = [0, 1, 2]
                if resolved.kind == .int || resolved.kind == .enum || resolved.kind == .enum64 { kinds += [3, 4, 5] }
                for kind in kinds {
                    source += "    keep(field_info(p->\(member.name), \(kind)));\n"
                    count += 1
                }
            }
            source += "    return 0;\n}\n\n"
        }
        // Local flavors with the members in reverse order (so every offset really moves), plus a
        // member the kernel lacks; read both through field_info and through plain loads.
        for structName in ["task_struct", "sk_buff", "tcp_sock"] {
            guard let id = uniqueID(structName, .struct) else { continue }
            var declarations: [String] = []
            var accesses: [(name: String, isInteger: Bool, isBitfield: Bool)] = []
            for member in try accessibleMembers(of: id).reversed() {
                let resolved = try vmlinux.type(vmlinux.skipTypedefs(member.type))
                if let array = resolved.array, array.count == 0 { continue }  // flexible arrays must stay last
                let isInteger = resolved.kind == .int || resolved.kind == .enum
                let bitfield = try vmlinux.bitfieldLayout(member).bitSize
                if bitfield > 0 {
                    // typeof cannot name a bitfield's type: spell it from BTF.
                    let declared = try vmlinux.type(member.type)
                    let spelled: String
                    switch declared.kind {
                    case .typedef, .int: spelled = declared.name
                    case .enum: spelled = "enum \(declared.name)"
                    default: continue
                    }
                    guard !spelled.hasSuffix(" "), !declared.name.isEmpty else { continue }
                    declarations.append("    \(spelled) \(member.name): \(bitfield);")
                    accesses.append((member.name, true, true))
                } else {
                    declarations.append("    typeof(((struct \(structName) *)0)->\(member.name)) \(member.name);")
                    accesses.append((member.name, isInteger, false))
                }
            }
            source += "struct \(structName)___reversed {\n    int swiftbpf_not_in_kernel;\n" + declarations.joined(separator: "\n")
            source += "\n} __attribute__((preserve_access_index));\n\n"
            source += "SEC(\"raw_tp/reversed_\(structName)\")\nint reversed_\(structName)(unsigned long long *ctx)\n{\n"
            source += "    struct \(structName)___reversed *q = (struct \(structName)___reversed *)ctx[0];\n"
            source += "    keep(field_info(q->swiftbpf_not_in_kernel, 2));\n    keep(field_info(q->swiftbpf_not_in_kernel, 0));\n"
            count += 2
            for access in accesses {
                for kind in access.isInteger ? [0, 1, 2, 3, 4, 5] : [0, 1, 2] {
                    source += "    keep(field_info(q->\(access.name), \(kind)));\n"
                    count += 1
                }
                if access.isInteger && !access.isBitfield {
                    source += "    keep(q->\(access.name));\n"
                    count += 1
                }
            }
            source += "    return 0;\n}\n\n"
        }
        source += "SEC(\"raw_tp/all_types\")\nint all_types(unsigned long long *ctx)\n{\n"
        let structNames = vmlinux.typeIDs(of: .struct).compactMap { id -> String? in
            guard let type = try? vmlinux.type(id), !type.name.isEmpty, uniqueID(type.name, .struct) == id else { return nil }
            return type.name
        }
        for name in structNames.prefix(300) {
            for (builtin, kind) in [("__builtin_preserve_type_info", 1), ("__builtin_preserve_type_info", 2), ("__builtin_btf_type_id", 1)] {
                source += "    keep(\(builtin)(*(typeof(struct \(name)) *)0, \(kind)));\n"
                count += 1
            }
        }
        source += "    return 0;\n}\n\n"
        source += "SEC(\"raw_tp/all_enums\")\nint all_enums(unsigned long long *ctx)\n{\n"
        var enumerators = 0
        for id in vmlinux.typeIDs(of: .enum) where enumerators < 600 {
            let type = try vmlinux.type(id)
            guard !type.name.isEmpty, uniqueID(type.name, .enum) == id else { continue }
            for enumerator in type.enumerators {
                // libbpf refuses unsigned enumerators above INT32_MAX (see refusesWhatLibbpfRefuses).
                if !type.isSignedEnum && enumerator.value > UInt64(Int32.max) { continue }
                source += "    keep(__builtin_preserve_enum_value(*(typeof(enum \(type.name)) *)\(enumerator.name), 1));\n"
                count += 1
                enumerators += 1
            }
        }
        source += "    return 0;\n}\n\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"
        return (source, count)
    }

    /// Thousands of relocations over real kernel structs, types and enums, generated from vmlinux
    /// BTF: every patched instruction must equal libbpf's.
    @Test func everyMemberOfBigKernelStructsMatchesLibbpf() throws {
        let work = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let vmlinux = try BTF(contentsOfFile: "/sys/kernel/btf/vmlinux")
        let (source, expectedCount) = try Self.generatedSource(vmlinux: vmlinux)
        let generated = work.appendingPathComponent("generated.bpf.c")
        try source.write(to: generated, atomically: true, encoding: .utf8)
        let (object, log) = try Self.compileAndRunLibbpf(generated.path, in: work, vmlinux: vmlinux)
        let libbpf = Self.parse(log)
        let (localBTF, sections) = try Self.loadObject(object)
        var compared = 0, mismatches = 0, moved = 0, poisoned = 0
        for (program, records, original) in sections {
            var instructions = original
            let results = try CORERelocator.apply(records: records, to: &instructions, localBTF: localBTF, targets: [vmlinux])
            let expected = libbpf.relocations[program] ?? [:]
            let libbpfInstructions = libbpf.instructions[program] ?? [:]
            #expect(results.count == expected.count, "\(program): \(results.count) relocations, libbpf \(expected.count)")
            for result in results {
                compared += 1
                if result.poisoned { poisoned += 1 } else if result.localValue != result.targetValue { moved += 1 }
                var slots = [result.instructionIndex]
                if original[result.instructionIndex].opcode == 0x18 { slots.append(result.instructionIndex + 1) }
                let theirs = expected[result.relocationIndex]
                let same = slots.allSatisfy { libbpfInstructions[$0] == instructions[$0] }
                    && theirs?.localSpec == result.localSpec && theirs?.matchedSpec == result.targetSpec
                if !same {
                    mismatches += 1
                    if mismatches <= 10 {
                        Issue.record("\(program) \(result): libbpf spec \(theirs?.matchedSpec ?? "none"), insns \(slots.map { String(describing: libbpfInstructions[$0]) }) ours \(slots.map { instructions[$0] })")
                    }
                }
            }
        }
        print("CO-RE: \(compared) generated relocations compared with libbpf (\(moved) changed value, \(poisoned) poisoned), \(mismatches) differ")
        // The reversed flavors really move fields; the member the kernel lacks is poisoned.
        #expect(moved > 1000 && poisoned >= 3, "moved \(moved), poisoned \(poisoned)")
        #expect(compared == expectedCount && compared > 1000, "compared \(compared) of \(expectedCount) generated")
    }
}
