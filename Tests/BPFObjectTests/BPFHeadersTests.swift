import BPFObject
import Foundation
import Testing
import TestSupport

/// Paths, vmlinux.h and clang invocations shared by the BPF-side header tests.
enum BPFHeadersFixture {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let includeDirectory = repositoryRoot.appendingPathComponent("bpf/include").path
    static let programsDirectory = repositoryRoot.appendingPathComponent("bpf/include/tests").path
    static let generator = repositoryRoot.appendingPathComponent("bpf/tools/generate-helper-defs").path
    static let table = repositoryRoot.appendingPathComponent("bpf/tools/helpers.table").path
    static let committedHeader = repositoryRoot.appendingPathComponent("bpf/include/bpf/bpf_helper_defs.h").path
    static let clang = "/opt/swift/usr/bin/clang"
    static let libbpfInclude = "/usr/include"

    /// Test programs compared with libbpf 1.1 (the installed oracle); `loops` (bpf_for) and
    /// `features` (bpf_core_cast, __arg_ctx, ...) use what libbpf gained later.
    static let comparedPrograms = ["task_core", "tp_btf", "kprobes", "uprobe", "xdp_count"]
    static let allPrograms = comparedPrograms + ["loops", "features"]

    typealias CommandResult = ChildProcess.Result

    /// Runs a compiler, its diagnostics and output in one stream.
    static func run(_ executable: String, _ arguments: [String]) throws -> CommandResult {
        try ChildProcess.run(executable, arguments, mergingErrors: true)
    }

    /// A directory holding vmlinux.h written by our BTFCHeaderWriter from the running kernel's BTF,
    /// rewritten once per test process (atomically, so concurrent runs see a whole file) at a
    /// fixed path so runs do not accumulate copies.
    static let vmlinuxDirectory: Result<String, Error> = Result {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sbpf-headers-vmlinux").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/sys/kernel/btf/vmlinux")))
        let header = try BTFCHeaderWriter(btf: BTF(bytes)).header()
        try header.write(toFile: directory + "/vmlinux.h", atomically: true, encoding: .utf8)
        return directory
    }

    /// Compiles `source` with the given BPF include directory; returns the object's path.
    static func compile(source: String, include: String, output: String, extraFlags: [String] = []) throws -> CommandResult {
        let vmlinux = try vmlinuxDirectory.get()
        return try run(clang, ["-target", "bpf", "-D__TARGET_ARCH_x86", "-g", "-O2", "-Wall", "-Werror"]
            + extraFlags + ["-I", include, "-I", vmlinux, "-c", source, "-o", output])
    }

    static func compileProgram(_ name: String, include: String = includeDirectory, suffix: String = "ours") throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-headers-\(getpid())-\(name).\(suffix).o").path
        let result = try compile(source: "\(programsDirectory)/\(name).bpf.c", include: include, output: output)
        guard result.status == 0 else {
            throw CompileFailure(program: name, headers: include, diagnostics: result.output)
        }
        return output
    }

    struct CompileFailure: Error, CustomStringConvertible {
        var program: String
        var headers: String
        var diagnostics: String
        var description: String { "\(program).bpf.c failed to compile with headers from \(headers):\n\(diagnostics)" }
    }

    /// What the loader sees of an object: executable section names, and per section the number
    /// of CO-RE relocation records in .BTF.ext.
    struct ObjectShape: Equatable, CustomStringConvertible {
        var programSections: [String]
        var coreRelocations: [String: Int]
        var description: String { "sections \(programSections), CO-RE relocations \(coreRelocations.sorted { $0.key < $1.key })" }
    }

    static func shape(ofObjectAt path: String) throws -> ObjectShape {
        let elf = try ELFFile(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
        let programSections = elf.sections.filter { $0.isExecutable && $0.size > 0 }.map(\.name).sorted()
        var relocations: [String: Int] = [:]
        if let btfSection = elf.section(named: ".BTF"), let extSection = elf.section(named: ".BTF.ext") {
            let btf = try BTF(Array(elf.data(of: btfSection)))
            let ext = try BTFExt(Array(elf.data(of: extSection)))
            for section in ext.coreRelocations {
                relocations[try btf.string(at: section.nameOffset), default: 0] += section.records.count
            }
        }
        return ObjectShape(programSections: programSections, coreRelocations: relocations)
    }

    static var toolsAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: clang)
            && FileManager.default.isReadableFile(atPath: "/sys/kernel/btf/vmlinux")
    }
    static var libbpfHeadersAvailable: Bool {
        FileManager.default.fileExists(atPath: libbpfInclude + "/bpf/bpf_helpers.h")
    }
}

@Suite("BPF-side headers: helper table and generator")
struct BPFHeadersGeneratorTests {
    @Test func committedHeaderIsTheGeneratorsOutput() throws {
        let result = try BPFHeadersFixture.run("/usr/bin/env", ["python3", BPFHeadersFixture.generator])
        #expect(result.status == 0, "\(result.output)")
        let committed = try String(contentsOfFile: BPFHeadersFixture.committedHeader, encoding: .utf8)
        #expect(result.output == committed, "bpf_helper_defs.h is stale: run bpf/tools/generate-helper-defs -o bpf/include/bpf/bpf_helper_defs.h")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/include/linux/bpf.h")))
    func tableMatchesTheKernelDocumentation() throws {
        let result = try BPFHeadersFixture.run("/usr/bin/env", ["python3", BPFHeadersFixture.generator, "--table-from", "/usr/include/linux/bpf.h"])
        #expect(result.status == 0, "\(result.output)")
        let parsed = result.output.split(separator: "\n").map(String.init)
        let committed = try String(contentsOfFile: BPFHeadersFixture.table, encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        #expect(parsed.count == 211)
        #expect(committed == parsed, "helpers.table is stale: regenerate it with --table-from")
        let ids = committed.compactMap { Int($0.split(separator: "\t").first ?? "") }
        #expect(ids == Array(1...ids.count), "helper ids must be dense from 1")
    }

    @Test func generatedPrototypesHaveTheExpectedShape() throws {
        let header = try String(contentsOfFile: BPFHeadersFixture.committedHeader, encoding: .utf8)
        #expect(header.contains("static long (* const bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *) 2;\n"))
        #expect(header.contains("static void *(* const bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;\n"))
        #expect(header.contains("static long (* const bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *) 6;\n"))
        #expect(header.contains("static struct task_struct *(* const bpf_get_current_task_btf)(void) = (void *) 158;\n"))
        #expect(header.contains("static long (* const bpf_cgrp_storage_delete)(void *map, struct cgroup *cgroup) = (void *) 211;\n"))
        #expect(header.contains("\nstruct pt_regs;\n") && header.contains("\nstruct __sk_buff;\n"))
        #expect(header.contains("static long (* const bpf_skb_vlan_push)(struct __sk_buff *skb, __be16 vlan_proto, __u16 vlan_tci) = (void *) 18;\n"))
        #expect(header.contains("static long (* const bpf_xdp_adjust_head)(struct xdp_md *xdp_md, int delta) = (void *) 44;\n"))
        #expect(!header.contains("size_t") && !header.contains("struct sk_buff "))
    }

    /// Every helper libbpf declares is declared here with the same id.
    @Test(.enabled(if: BPFHeadersFixture.libbpfHeadersAvailable))
    func helperIdsAgreeWithLibbpf() throws {
        func ids(in path: String) throws -> [String: Int] {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            var result: [String: Int] = [:]
            for line in text.split(separator: "\n") where line.hasPrefix("static ") && line.hasSuffix(";") {
                // libbpf 1.1 writes `(*bpf_name)`, later versions and ours `(* const bpf_name)`.
                guard let nameStart = (line.range(of: "(* const bpf_") ?? line.range(of: "(*bpf_"))?.upperBound,
                      let nameEnd = line[nameStart...].firstIndex(of: ")"),
                      let idStart = line.range(of: "= (void *) ", options: .backwards)?.upperBound,
                      let id = Int(line[idStart...].dropLast()) else { continue }
                result[String(line[nameStart..<nameEnd])] = id
            }
            return result
        }
        // Whole declarations too: libbpf's are generated from the same kernel documentation.
        func declarations(in path: String) throws -> Set<String> {
            Set(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
                .filter { $0.hasPrefix("static ") }
                .map { $0.replacingOccurrences(of: "(*bpf_", with: "(* const bpf_") })
        }
        let libbpfDeclarations = try declarations(in: BPFHeadersFixture.libbpfInclude + "/bpf/bpf_helper_defs.h")
        #expect(libbpfDeclarations.subtracting(try declarations(in: BPFHeadersFixture.committedHeader)) == [])
        let ours = try ids(in: BPFHeadersFixture.committedHeader)
        let libbpf = try ids(in: BPFHeadersFixture.libbpfInclude + "/bpf/bpf_helper_defs.h")
        #expect(libbpf.count > 150)
        for (name, id) in libbpf {
            #expect(ours[name] == id, "bpf_\(name)")
        }
        #expect(ours.count == 211)
    }

    @Test func rejectsAMalformedTable() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-headers-bad-\(getpid()).table").path
        try "1\tmap_lookup_elem\tvoid *\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try BPFHeadersFixture.run("/usr/bin/env", ["python3", BPFHeadersFixture.generator, "--table", path])
        #expect(result.status != 0)
        #expect(result.output.contains(":1: expected"))
    }
}

@Suite("BPF-side headers: programs compile and match libbpf's", .enabled(if: BPFHeadersFixture.toolsAvailable))
struct BPFHeadersCompileTests {
    @Test(arguments: BPFHeadersFixture.allPrograms)
    func compilesWithOurHeaders(program: String) throws {
        let object = try BPFHeadersFixture.compileProgram(program)
        defer { try? FileManager.default.removeItem(atPath: object) }
        let shape = try BPFHeadersFixture.shape(ofObjectAt: object)
        #expect(!shape.programSections.isEmpty)
    }

    /// The strong check: the same source through libbpf's headers gives the same programs and
    /// the same number of CO-RE relocations in every section.
    @Test(.enabled(if: BPFHeadersFixture.libbpfHeadersAvailable), arguments: BPFHeadersFixture.comparedPrograms)
    func matchesLibbpfHeaders(program: String) throws {
        let ours = try BPFHeadersFixture.compileProgram(program)
        let theirs = try BPFHeadersFixture.compileProgram(program, include: BPFHeadersFixture.libbpfInclude, suffix: "libbpf")
        defer {
            try? FileManager.default.removeItem(atPath: ours)
            try? FileManager.default.removeItem(atPath: theirs)
        }
        let ourShape = try BPFHeadersFixture.shape(ofObjectAt: ours)
        let theirShape = try BPFHeadersFixture.shape(ofObjectAt: theirs)
        #expect(ourShape == theirShape)
    }

    @Test func taskProgramCarriesEveryKindOfRelocation() throws {
        let object = try BPFHeadersFixture.compileProgram("task_core")
        defer { try? FileManager.default.removeItem(atPath: object) }
        let elf = try ELFFile(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: object))))
        let ext = try BTFExt(Array(elf.data(of: try #require(elf.section(named: ".BTF.ext")))))
        let kinds = Set(ext.coreRelocations.flatMap { $0.records.map(\.rawKind) })
        // field byte offset (0), byte size (1), exists (2), signed (3), lshift (4), rshift (5),
        // type exists (8), type size (9), enum value exists (10), enum value (11).
        for kind in [0, 1, 2, 3, 4, 5, 8, 9, 10, 11] as [UInt32] {
            #expect(kinds.contains(kind), "CO-RE relocation kind \(kind)")
        }
        #expect(elf.section(named: ".rodata") != nil && elf.section(named: ".bss") != nil)
    }

    private func compileSnippet(_ body: String, flags: [String] = ["-D__TARGET_ARCH_x86"],
                                keepObject inspect: ((String) throws -> Void)? = nil) throws -> BPFHeadersFixture.CommandResult {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-headers-snippet-\(getpid())-\(UUID().uuidString)").path
        try body.write(toFile: base + ".c", atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".c")
            try? FileManager.default.removeItem(atPath: base + ".o")
        }
        let vmlinux = try BPFHeadersFixture.vmlinuxDirectory.get()
        let result = try BPFHeadersFixture.run(BPFHeadersFixture.clang, ["-target", "bpf", "-g", "-O2", "-Wall", "-Werror"]
            + ["-I", BPFHeadersFixture.includeDirectory] + flags + ["-I", vmlinux, "-c", base + ".c", "-o", base + ".o"])
        if result.status == 0, let inspect { try inspect(base + ".o") }
        return result
    }

    /// __ulong puts a 64-bit number in a map definition as an enum (libbpf 1.3+ reads it;
    /// 1.1 does not, so this is compile-only), and the two field_exists forms agree.
    @Test func mapExtraAndFieldForms() throws {
        let result = try compileSnippet("""
            #include "vmlinux.h"
            #include <bpf/bpf_helpers.h>
            #include <bpf/bpf_core_read.h>
            struct {
                __uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
                __uint(max_entries, 64);
                __type(value, __u32);
                __ulong(map_extra, 0x100000003ULL);
                __uint(pinning, LIBBPF_PIN_BY_NAME);
            } bloom SEC(".maps");
            SEC("tp_btf/sched_switch") int f(void *ctx) {
                struct task_struct *t = (void *)0;
                return bpf_core_field_exists(t->pid) + bpf_core_field_exists(struct task_struct, pid)
                    + bpf_core_field_offset(t->tgid) + bpf_core_field_size(struct task_struct, comm);
            }
            char LICENSE[] SEC("license") = "GPL";
            """)
        #expect(result.status == 0, "\(result.output)")
    }

    /// Without vmlinux.h: UAPI headers, and x86 registers by their <asm/ptrace.h> names (rdi at
    /// offset 112, rsi at 104 of the user-space struct pt_regs).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/include/x86_64-linux-gnu/asm/ptrace.h")))
    func compilesWithUAPIHeadersInsteadOfVmlinux() throws {
        let result = try compileSnippet("""
            #include <linux/bpf.h>
            #include <linux/if_ether.h>
            #include <linux/ptrace.h>
            #include <bpf/bpf_helpers.h>
            #include <bpf/bpf_endian.h>
            #include <bpf/bpf_tracing.h>
            SEC("xdp") int x(struct xdp_md *ctx) {
                struct ethhdr *eth = (void *)(long)ctx->data;
                if ((void *)(eth + 1) > (void *)(long)ctx->data_end) return XDP_PASS;
                return eth->h_proto == bpf_htons(ETH_P_IP) ? XDP_DROP : XDP_PASS;
            }
            SEC("kprobe/f") int BPF_KPROBE(f, long a, long b) { return a + b; }
            char LICENSE[] SEC("license") = "GPL";
            """, flags: ["-D__TARGET_ARCH_x86", "-I", "/usr/include/x86_64-linux-gnu"], keepObject: { object in
                let elf = try ELFFile(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: object))))
                let code = Array(try elf.data(of: try #require(elf.section(named: "kprobe/f"))))
                // BPF_LDX | BPF_MEM | BPF_DW (0x79) from r1 (src nibble 1): the two offsets loaded.
                let offsets = stride(from: 0, to: code.count, by: 8).filter { code[$0] == 0x79 && code[$0 + 1] >> 4 == 1 }
                    .map { Int(code[$0 + 2]) | Int(code[$0 + 3]) << 8 }
                #expect(Set(offsets) == [112, 104])
            })
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func endianMacrosFoldConstants() throws {
        let result = try compileSnippet("""
            #include "vmlinux.h"
            #include <bpf/bpf_endian.h>
            _Static_assert(bpf_htons(0x1234) == 0x3412, "htons");
            _Static_assert(bpf_ntohl(0x12345678) == 0x78563412, "ntohl");
            _Static_assert(bpf_cpu_to_be64(0x0102030405060708ULL) == 0x0807060504030201ULL, "be64");
            _Static_assert(__bpf_constant_ntohs(bpf_htons(0xabcd)) == 0xabcd, "round trip");
            int classify(__u16 proto) {
                switch (proto) { case bpf_htons(0x0800): return 1; case bpf_htons(0x86dd): return 2; }
                return bpf_ntohs(proto);
            }
            """, flags: [])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func registerMacrosNeedATargetArchitecture() throws {
        let source = """
            #include "vmlinux.h"
            #include <bpf/bpf_helpers.h>
            #include <bpf/bpf_tracing.h>
            SEC("kprobe/f") int BPF_KPROBE(f, int a) { return a; }
            char LICENSE[] SEC("license") = "GPL";
            """
        let withoutArch = try compileSnippet(source, flags: [])
        #expect(withoutArch.status != 0)
        #expect(withoutArch.output.contains("-D__TARGET_ARCH_x86"))
        #expect(try compileSnippet(source).status == 0)
    }

    /// arm64 (AAPCS64) register layout through a minimal self-contained prelude (the running
    /// kernel's vmlinux.h is x86's): eight register arguments, x29/x30 as FP/RET, orig_x0 for syscalls.
    @Test func arm64RegisterLayoutCompiles() throws {
        let result = try compileSnippet("""
            typedef unsigned long long __u64; typedef long long __s64; typedef unsigned int __u32; typedef int __s32;
            typedef unsigned short __u16; typedef short __s16; typedef unsigned char __u8; typedef signed char __s8;
            typedef __u16 __be16; typedef __u32 __be32; typedef __u32 __wsum; typedef unsigned long size_t;
            struct user_pt_regs { __u64 regs[31]; __u64 sp; __u64 pc; __u64 pstate; };
            struct pt_regs { struct user_pt_regs user_regs; __u64 orig_x0; } __attribute__((preserve_access_index));
            #include <bpf/bpf_helpers.h>
            #include <bpf/bpf_tracing.h>
            SEC("kprobe/f") int BPF_KPROBE(f, int a, long b, long c, long d, long e, long g, long h, long i) {
                return a + b + c + d + e + g + h + i + PT_REGS_RET(ctx) + PT_REGS_FP(ctx) + PT_REGS_IP_CORE(ctx);
            }
            SEC("ksyscall/openat") int BPF_KSYSCALL(s, int dfd, const char *p, int flags, int mode) { return dfd + flags + mode; }
            char LICENSE[] SEC("license") = "GPL";
            """, flags: ["-D__TARGET_ARCH_arm64"])
        #expect(result.status == 0, "\(result.output)")
    }

    /// PT_REGS_* read the right slot of each architecture's register file: every macro
    /// compiled alone for x86 (kernel `struct pt_regs` names, as vmlinux.h has them) and for arm64
    /// (`struct user_pt_regs`), and the offset of the one context load compared with the layout
    /// of arch/x86/include/asm/ptrace.h and arch/arm64/include/uapi/asm/ptrace.h.
    @Test(arguments: ["x86", "arm64"]) func registerMacrosReadTheRightSlots(arch: String) throws {
        let basicTypes = """
            typedef unsigned long long __u64; typedef long long __s64; typedef unsigned int __u32; typedef int __s32;
            typedef unsigned short __u16; typedef short __s16; typedef unsigned char __u8; typedef signed char __s8;
            typedef __u16 __be16; typedef __u32 __be32; typedef __u32 __wsum; typedef unsigned long size_t;
            """
        let prelude: String
        let expected: [(macro: String, offset: Int)]
        if arch == "x86" {
            let fields = ["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
                          "orig_ax", "ip", "cs", "flags", "sp", "ss"]
            prelude = basicTypes + "\n#define __VMLINUX_H__\nstruct pt_regs { "
                + fields.map { "unsigned long \($0);" }.joined(separator: " ") + " } __attribute__((preserve_access_index));"
            func at(_ field: String) -> Int { fields.firstIndex(of: field)! * 8 }
            expected = [("PT_REGS_PARM1", at("di")), ("PT_REGS_PARM2", at("si")), ("PT_REGS_PARM3", at("dx")),
                        ("PT_REGS_PARM4", at("cx")), ("PT_REGS_PARM5", at("r8")), ("PT_REGS_PARM6", at("r9")),
                        ("PT_REGS_RC", at("ax")), ("PT_REGS_SP", at("sp")), ("PT_REGS_FP", at("bp")),
                        ("PT_REGS_IP", at("ip")), ("PT_REGS_RET", at("sp")),
                        ("PT_REGS_PARM1_SYSCALL", at("di")), ("PT_REGS_PARM4_SYSCALL", at("r10"))]
        } else {
            prelude = basicTypes + """

                struct user_pt_regs { __u64 regs[31]; __u64 sp; __u64 pc; __u64 pstate; };
                struct pt_regs { struct user_pt_regs user_regs; __u64 orig_x0; } __attribute__((preserve_access_index));
                """
            let parameters: [(macro: String, offset: Int)] = (1...8).map { (macro: "PT_REGS_PARM\($0)", offset: ($0 - 1) * 8) }
            expected = parameters + [("PT_REGS_RC", 0), ("PT_REGS_FP", 29 * 8), ("PT_REGS_RET", 30 * 8), ("PT_REGS_SP", 31 * 8),
                   ("PT_REGS_IP", 32 * 8), ("PT_REGS_PARM4_SYSCALL", 3 * 8)]
        }
        var programs = ""
        for (index, entry) in expected.enumerated() {
            programs += "SEC(\"kprobe/m\(index)\") int m\(index)(struct pt_regs *ctx) { sink = (__u64)\(entry.macro)(ctx); return 0; }\n"
        }
        // The CO-RE forms compile too (their offsets are relocations, checked by the loader tests).
        programs += "SEC(\"kprobe/core\") int core(struct pt_regs *ctx) { sink = PT_REGS_PARM1_CORE(ctx) + PT_REGS_RC_CORE(ctx) + PT_REGS_PARM1_CORE_SYSCALL(ctx); return 0; }\n"
        let source = prelude + """

            #include <bpf/bpf_helpers.h>
            #include <bpf/bpf_tracing.h>
            __u64 sink;

            """ + programs + "char LICENSE[] SEC(\"license\") = \"GPL\";\n"
        let result = try compileSnippet(source, flags: ["-D__TARGET_ARCH_\(arch)"], keepObject: { object in
            let elf = try ELFFile(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: object))))
            for (index, entry) in expected.enumerated() {
                let code = Array(try elf.data(of: try #require(elf.section(named: "kprobe/m\(index)"))))
                // BPF_LDX | BPF_MEM of any size (class 0x01, mode 0x60) with src_reg r1, the context.
                var loads: [Int] = []
                for offset in stride(from: 0, to: code.count - 7, by: 8) where code[offset] & 0xe7 == 0x61 && code[offset + 1] >> 4 == 1 {
                    loads.append(Int(code[offset + 2]) | Int(code[offset + 3]) << 8)
                }
                #expect(loads == [entry.offset], "\(arch) \(entry.macro)")
            }
        })
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func printkPicksTheHelperByArgumentCount() throws {
        let object = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-headers-printk-\(getpid()).o").path
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-headers-printk-\(getpid()).c").path
        try """
            #include "vmlinux.h"
            #include <bpf/bpf_helpers.h>
            SEC("tracepoint/x/y") int three(void *ctx) { bpf_printk("%d %d %d", 1, 2, 3); return 0; }
            SEC("tracepoint/x/z") int four(void *ctx) { bpf_printk("%d %d %d %d", 1, 2, 3, 4); return 0; }
            SEC("tracepoint/x/w") int none(void *ctx) { bpf_printk("hello"); return 0; }
            char LICENSE[] SEC("license") = "GPL";
            """.write(toFile: source, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(atPath: source)
            try? FileManager.default.removeItem(atPath: object)
        }
        let compiled = try BPFHeadersFixture.compile(source: source, include: BPFHeadersFixture.includeDirectory, output: object)
        #expect(compiled.status == 0, "\(compiled.output)")
        let elf = try ELFFile(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: object))))
        func helperCalls(in name: String) throws -> [Int32] {
            let bytes = Array(try elf.data(of: try #require(elf.section(named: name))))
            return stride(from: 0, to: bytes.count - 7, by: 8).compactMap { offset -> Int32? in
                // BPF_JMP | BPF_CALL = 0x85 with src_reg 0: a helper call; imm is the helper id.
                guard bytes[offset] == 0x85, bytes[offset + 1] >> 4 == 0 else { return nil }
                return Int32(bitPattern: UInt32(bytes[offset + 4]) | UInt32(bytes[offset + 5]) << 8
                    | UInt32(bytes[offset + 6]) << 16 | UInt32(bytes[offset + 7]) << 24)
            }
        }
        #expect(try helperCalls(in: "tracepoint/x/y") == [6])      // bpf_trace_printk
        #expect(try helperCalls(in: "tracepoint/x/z") == [177])    // bpf_trace_vprintk
        #expect(try helperCalls(in: "tracepoint/x/w") == [6])
    }

    @Test func coreReadChainsReachNineHops() throws {
        let result = try compileSnippet("""
            #include "vmlinux.h"
            #include <bpf/bpf_helpers.h>
            #include <bpf/bpf_core_read.h>
            SEC("tracepoint/x/y") int deep(void *ctx) {
                struct task_struct *t = (void *)bpf_get_current_task();
                int pid = BPF_CORE_READ(t, real_parent, real_parent, real_parent, real_parent,
                                        real_parent, real_parent, real_parent, real_parent, pid);
                const unsigned char *name = BPF_PROBE_READ(t, mm, exe_file, f_path.dentry, d_name.name);
                char buf[16];
                BPF_PROBE_READ_STR_INTO(&buf, t, comm);
                return pid + (name != 0) + buf[0];
            }
            char LICENSE[] SEC("license") = "GPL";
            """)
        #expect(result.status == 0, "\(result.output)")
    }
}
