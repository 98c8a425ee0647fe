import Foundation
import Testing
@testable import BPFObject

/// The C header writer: its vmlinux.h must compile for the BPF target, reproduce every struct's
/// size and member offsets, and serve a CO-RE program.
@Suite struct BTFCHeaderTests {
    @Test func smallBlobHeaderCompilesWithExactLayout() throws {
        let btf = try BTF(BTFFixtures.everyKind().1)
        let header = try BTFCHeaderWriter(btf: btf).header()
        #expect(header.contains("struct point {\n\tint x;\n\tint flags: 3;\n\tint kind: 5;\n};"))
        #expect(header.contains("typedef long long unsigned int u64;"))
        #expect(header.contains("enum big {\n\tHUGE = 1099511627776LL,\n\tSMALL = -5LL,\n};"))
        #expect(header.contains("union later;"))
        #expect(header.contains("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)"))
        let checks = """
            _Static_assert(sizeof(struct outer) == 32, "outer");
            _Static_assert(__builtin_offsetof(struct outer, name) == 12, "name");
            _Static_assert(__builtin_offsetof(struct outer, b) == 8, "anonymous union");
            _Static_assert(sizeof(enum big) == 8, "enum64");
            """
        try compile(header: header, program: checks)
    }

    @Test func layoutsNeedingPaddingPackingAndNameRenaming() throws {
        var b = BTFBuilder()
        let char = b.addInt("char", size: 1, encoding: .char)
        let int = b.addInt("int", size: 4, encoding: .signed)
        let long = b.addInt("long", size: 8, encoding: .signed)
        // Packed: an int at byte 1.
        b.addStruct("packed_thing", size: 5, members: [.init("c", char, bitOffset: 0), .init("i", int, bitOffset: 8)])
        // Over-aligned member: a long at byte 64 (a ____cacheline_aligned field), size 128.
        b.addStruct("aligned_thing", size: 128, members: [.init("c", char, bitOffset: 0), .init("l", long, bitOffset: 512)])
        // Two different structs called "dup"; the second becomes dup___2.
        b.addStruct("dup", size: 4, members: [.init("a", int, bitOffset: 0)])
        b.addStruct("dup", size: 8, members: [.init("b", long, bitOffset: 0)])
        // A 1-byte enum.
        b.addEnum("small", size: 1, values: [("SMALL_A", 1)])
        let btf = try BTF(b.encode())
        let header = try BTFCHeaderWriter(btf: btf).header()
        #expect(header.contains("} __attribute__((packed));"))
        #expect(header.contains("struct dup___2 {"))
        #expect(header.contains("long: 64;"))
        try compile(header: header, program: """
            _Static_assert(sizeof(struct packed_thing) == 5, "packed");
            _Static_assert(__builtin_offsetof(struct packed_thing, i) == 1, "packed offset");
            _Static_assert(sizeof(struct aligned_thing) == 128, "aligned size");
            _Static_assert(__builtin_offsetof(struct aligned_thing, l) == 64, "aligned offset");
            _Static_assert(sizeof(struct dup___2) == 8, "renamed");
            _Static_assert(sizeof(enum small) == 1, "enum size");
            """)
    }

    /// The whole kernel: every uniquely named struct and union has BTF's size and member
    /// offsets when compiled, and a CO-RE program builds against the header.
    @Test func vmlinuxHeaderCompilesWithKernelLayoutsAndServesCORE() throws {
        guard let btf = BTFFixtures.vmlinux else { return }
        let header = try BTFCHeaderWriter(btf: btf).header()
        var nameCounts: [String: Int] = [:]
        for id in btf.allTypeIDs {
            let type = try btf.type(id)
            if [.struct, .union, .enum, .enum64].contains(type.kind), !type.isAnonymous { nameCounts[type.name, default: 0] += 1 }
        }
        var checks = ""
        for id in btf.allTypeIDs {
            let type = try btf.type(id)
            guard type.kind.isComposite, !type.isAnonymous, nameCounts[type.name] == 1 else { continue }
            let spelled = "\(type.kind == .struct ? "struct" : "union") \(type.name)"
            checks += "_Static_assert(sizeof(\(spelled)) == \(type.sizeOrType), \"\(type.name)\");\n"
            for member in type.members where !member.isAnonymous && member.bitfieldSize == 0 && member.bitOffset % 8 == 0 {
                guard try btf.bitfieldLayout(member).bitSize == 0 else { continue }
                checks += "_Static_assert(__builtin_offsetof(\(spelled), \(member.name)) == \(member.bitOffset / 8), \"\(type.name).\(member.name)\");\n"
            }
        }
        try compile(header: header, program: checks)

        let taskStruct = try btf.typeID(named: "task_struct", kind: .struct)
        let pidIndex = try btf.field("pid", in: taskStruct).path[0].index
        let object = try compile(header: header, program: """
            #define SEC(name) __attribute__((section(name), used))
            SEC("tp_btf/sched_switch")
            int on_switch(unsigned long long *ctx)
            {
                struct task_struct *next = (struct task_struct *)ctx[2];
                return next->pid + (int)__builtin_preserve_field_info(next->comm, 0);
            }
            char LICENSE[] SEC("license") = "GPL";
            """)
        // The compiler recorded CO-RE relocations against task_struct.pid ("0:<index>").
        let elf = try Data(contentsOf: object)
        let programBTF = try BTF(try BTFTestELF.section(".BTF", in: [UInt8](elf)))
        let ext = try BTFExt(try BTFTestELF.section(".BTF.ext", in: [UInt8](elf)))
        let relocations = ext.coreRelocations.flatMap(\.records)
        let accessStrings = try relocations.map { try programBTF.string(at: $0.accessStringOffset) }
        #expect(accessStrings.contains("0:\(pidIndex)"))
        #expect(relocations.allSatisfy { $0.kind == .fieldByteOffset })
        #expect(try relocations.allSatisfy { try programBTF.type($0.typeID).name == "task_struct" })
    }

    @discardableResult
    func compile(header: String, program: String) throws -> URL {
        let directory = try BTFFixtures.temporaryDirectory()
        try header.write(to: directory.appendingPathComponent("vmlinux.h"), atomically: true, encoding: .utf8)
        let source = directory.appendingPathComponent("prog.bpf.c")
        try ("#include \"vmlinux.h\"\n" + program + "\n").write(to: source, atomically: true, encoding: .utf8)
        let object = directory.appendingPathComponent("prog.bpf.o")
        _ = try BTFFixtures.run(BTFFixtures.clang, ["-target", "bpf", "-g", "-O2", "-Werror=implicit-function-declaration", "-c", source.path, "-o", object.path])
        return object
    }
}

/// Pulls a section out of a clang-built BPF object with the pure ELF reader.
enum BTFTestELF {
    static func section(_ name: String, in bytes: [UInt8]) throws -> [UInt8] {
        let elf = try ELFFile(bytes: bytes)
        guard let section = elf.section(named: name) else { throw BTFError.notFound("ELF section \(name)") }
        return Array(try elf.data(of: section))
    }
}
