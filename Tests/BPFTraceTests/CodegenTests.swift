import BPFObject
import Foundation
import Testing
@testable import BPFTrace

/// A tracepoint layout without tracefs: `syscalls:sys_enter_openat` as the kernel describes it.
struct FixedFormats: TracepointFormatSource {
    struct Missing: Error {}
    static let openat = """
    name: sys_enter_openat
    ID: 700
    format:
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
    \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
    \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
    \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

    \tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
    \tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
    \tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
    \tfield:__data_loc char[] name;\toffset:32;\tsize:4;\tsigned:0;

    print fmt: "dfd: 0x%08lx"
    """

    /// `raw_syscalls:sys_enter`, whose record ends in an array of six u64 arguments.
    static let sysEnter = """
    name: sys_enter
    ID: 443
    format:
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
    \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
    \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
    \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

    \tfield:long id;\toffset:8;\tsize:8;\tsigned:1;
    \tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;

    print fmt: "NR %ld"
    """

    func format(category: String, name: String) throws -> TracepointFormat {
        switch (category, name) {
        case ("syscalls", "sys_enter_openat"): return try TracepointFormat(parsing: Self.openat)
        case ("raw_syscalls", "sys_enter"): return try TracepointFormat(parsing: Self.sysEnter)
        default: throw Missing()
        }
    }
}

func compile(_ text: String) throws -> CompiledScript {
    let parsed = Parser.parse(text)
    guard let program = parsed.program, parsed.succeeded else { throw TraceError("parse failed: \(parsed.diagnostics)") }
    return try TraceCompiler.compile(program, formats: FixedFormats())
}

func compileErrors(_ text: String) -> [String] {
    do {
        _ = try compile(text)
        return []
    } catch let failure as TraceCompiler.Failure {
        return failure.diagnostics.map(\.message)
    } catch {
        return ["\(error)"]
    }
}

@Suite struct CodegenSemanticTests {
    @Test func unknownTracepointIsReportedBeforeLoading() {
        #expect(compileErrors("tracepoint:syscalls:sys_enter_nope { }") == ["tracepoint not found: syscalls:sys_enter_nope"])
    }

    @Test func unknownFieldNamesTheRecord() {
        #expect(compileErrors("t:syscalls:sys_enter_openat { @ = args->nothing; }") ==
            ["Struct/union of type 'struct sys_enter_openat_args' does not contain a field named 'nothing'"])
    }

    /// kprobes read arguments from `struct pt_regs` like uprobes; when the kernel cannot attach
    /// them the compiler says which feature is missing before anything loads.
    @Test func kprobesCompileToRegisterReads() throws {
        let script = try compile("kprobe:vfs_read+4 { @[arg1] = count(); } kretprobe:vfs_read { @r = hist(retval); }")
        #expect(script.probes.map(\.programType) == [.kprobe, .kprobe])
        #expect(script.probes.map(\.attachment) == [.kprobe(function: "vfs_read", offset: 4, isReturn: false),
                                                    .kprobe(function: "vfs_read", offset: 0, isReturn: true)])
        let text = Disassembler().text(script.probes[0].instructions)
        #expect(text.contains("*(u64 *)(r9 +104)"), "arg1 is rsi in pt_regs: \(text)")
        // Same pt_regs context, different address space: kprobes read kernel memory, uprobes user memory.
        let kernelRead = Disassembler().text(try compile("kprobe:vfs_read { @ = *arg1; }").probes[0].instructions)
        let userRead = Disassembler().text(try compile("uprobe:/bin/sh:main { @ = *arg1; }").probes[0].instructions)
        #expect(kernelRead.contains("bpf_probe_read_kernel") && !kernelRead.contains("bpf_probe_read_user"), "\(kernelRead)")
        #expect(userRead.contains("bpf_probe_read_user") && !userRead.contains("bpf_probe_read_kernel"), "\(userRead)")
        var options = TraceCompileOptions()
        options.kprobesUnavailable = { "CONFIG_KPROBES, which this kernel lacks" }
        let program = try #require(Parser.parse("kprobe:vfs_read { }").program)
        #expect(throws: TraceCompiler.Failure.self) { try TraceCompiler.compile(program, formats: FixedFormats(), options: options) }
        do { _ = try TraceCompiler.compile(program, formats: FixedFormats(), options: options) } catch let failure as TraceCompiler.Failure {
            #expect(failure.diagnostics.first?.message == "kprobe probes need CONFIG_KPROBES, which this kernel lacks; use tracepoint: or rawtracepoint: instead")
        }
    }

    /// kfunc/kretfunc: `args->NAME` and `retval` are the u64 context slots of the BTF prototype
    /// (vfs_read(file, buf, count, pos) → count at +16, retval at +32), struct pointers read on.
    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: "/sys/kernel/btf/vmlinux")))
    func kfuncArgumentsComeFromBTF() throws {
        let btf = try BTF([UInt8](Data(contentsOf: URL(fileURLWithPath: "/sys/kernel/btf/vmlinux"))))
        func compileKfunc(_ text: String) throws -> CompiledScript {
            let program = try #require(Parser.parse(text).program)
            return try TraceCompiler.compile(program, formats: FixedFormats(), kernelTypes: { btf })
        }
        let script = try compileKfunc("kretfunc:vfs_read { @[args->count] = hist(retval); @p = args->file->f_pos; }")
        let probe = try #require(script.probes.first)
        #expect(probe.programType == .tracing)
        #expect(probe.attachment == .kfunc(function: "vfs_read", btfID: try #require(btf.typeIDs(named: "vfs_read", kind: .function).first), isReturn: true))
        let text = Disassembler().text(probe.instructions)
        #expect(text.contains("= *(u64 *)(r9 +16)") && text.contains("= *(u64 *)(r9 +32)") && text.contains("= *(u64 *)(r9 +0)"), "\(text)")
        #expect(try compileKfunc("kfunc:vfs_* { @[func] = count(); }").probes.count > 5)
        for (bad, message) in [("kfunc:vfs_read { @ = args->nope; }", "Can't find function parameter nope"),
                               ("kfunc:no_such_function_sbpf { }", "No BTF found for no_such_function_sbpf"),
                               ("kfunc:vfs_read { @ = retval; }", "The retval builtin can only be used")] {
            do {
                _ = try compileKfunc(bad)
                Issue.record("accepted \(bad)")
            } catch let failure as TraceCompiler.Failure {
                #expect(failure.diagnostics.first?.message.hasPrefix(message) == true, "\(failure.diagnostics)")
            }
        }
    }

    @Test func mapTypesMustAgreeAcrossProbes() {
        let errors = compileErrors(#"BEGIN { @x = 1; } END { @x = "s"; }"#)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("Type mismatch for @x") == true)
        #expect(compileErrors("BEGIN { @x = count(); @x = sum(2); }").first?.contains("'sum' when map already contains a value of type 'count'") == true)
    }

    @Test func printfArgumentsAreChecked() {
        #expect(compileErrors(#"BEGIN { printf("%d %d\n", 1); }"#) == ["printf: Not enough arguments for format string (1 supplied, 2 expected)"])
        #expect(compileErrors(#"BEGIN { printf("%d\n", comm); }"#).first?.contains("expects a value of type integer") == true)
    }

    @Test func undefinedVariablesAndAggregationsOutsideMaps() {
        #expect(compileErrors("BEGIN { @ = $nope; }") == ["Undefined or undeclared variable: $nope"])
        #expect(compileErrors("BEGIN { $x = count(); }") == ["count() should be directly assigned to a map"])
        #expect(compileErrors("BEGIN { @ = args->x; }") == ["The args builtin can only be used with tracepoint probes"])
    }

    @Test func errorsCarryTheOffendingRange() throws {
        let parsed = Parser.parse("BEGIN { @ = $nope; }")
        #expect(throws: TraceCompiler.Failure.self) { try TraceCompiler.compile(parsed.program!, formats: FixedFormats()) }
        do {
            _ = try TraceCompiler.compile(parsed.program!, formats: FixedFormats())
        } catch let failure as TraceCompiler.Failure {
            #expect(failure.diagnostics.first?.range.begin.column == 13)
            #expect(failure.diagnostics.first?.range.end.column == 18)
        }
    }
}

@Suite struct CodegenShapeTests {
    @Test func countMapIsAPerCPUHashWithAtomicAdd() throws {
        let script = try compile("t:syscalls:sys_enter_openat /pid == 1/ { @[comm] = count(); }")
        #expect(script.maps == [TraceMap(name: "@", keyTypes: [.string(size: 16)], kind: .count)])
        let spec = script.maps[0].spec(maxEntries: 4096)
        #expect(spec.type == .percpuHash && spec.keySize == 16 && spec.valueSize == 8)
        let probe = try #require(script.probes.first)
        #expect(probe.programType == .tracepoint)
        #expect(probe.attachment == .tracepoint(category: "syscalls", name: "sys_enter_openat"))
        let decoded = Disassembler().text(probe.instructions)
        #expect(decoded.contains("call bpf_get_current_pid_tgid"))
        #expect(decoded.contains("call bpf_get_current_comm"))
        #expect(decoded.contains("call bpf_map_lookup_elem"))
        #expect(decoded.contains("lock *(u64 *)"))
        // This program never reads its context, so it does not keep it in r9; the last returns 0.
        #expect(!probe.instructions.contains { $0.opcode == 0xbf && $0.dst == 9 })
        #expect(probe.instructions.last?.opcode == 0x95)
        // A program reading the tracepoint record saves its context in r9 first.
        let reading = try #require(try compile("t:syscalls:sys_enter_openat { @[args->dfd] = count(); }").probes.first)
        #expect(reading.instructions.first?.opcode == 0xbf && reading.instructions.first?.dst == 9 && reading.instructions.first?.src == 1)
        #expect(probe.sourceRanges.count == probe.instructions.count)
    }

    @Test func tracepointFieldsLoadAtTheirOffsetsWithSignExtension() throws {
        let script = try compile("t:syscalls:sys_enter_openat { @ = args->__syscall_nr; }")
        let text = Disassembler().text(script.probes[0].instructions)
        #expect(text.contains("r0 = *(u32 *)(r9 +8)"))
        #expect(text.contains("r0 <<= 32"))
        #expect(text.contains("r0 s>>= 32"))
        #expect(script.maps[0].kind == .value(.integer(signed: true)))
    }

    @Test func printfRecordsTheFormatAndPackedTypes() throws {
        let script = try compile(#"BEGIN { printf("%s %d\n", comm, 5); exit(); }"#)
        #expect(script.formats == [TraceFormat(format: "%s %d\n", argumentTypes: [.string(size: 16), .integer(signed: true)])])
        #expect(script.probes[0].programType == .rawTracepoint)
        #expect(Disassembler().text(script.probes[0].instructions).contains("call bpf_ringbuf_output"))
    }

    @Test func histogramKeysGetABucket() throws {
        let script = try compile("BEGIN { @h[1] = hist(5); @l = lhist(5, 0, 100, 10); }")
        #expect(script.maps[0].keySize == 16)
        #expect(script.maps[1].keySize == 16)
        #expect(script.maps[1].kind == .lhist(min: 0, max: 100, step: 10))
    }

    @Test func stackOverflowIsADiagnosticNotATrap() {
        // One statement's temporaries (statements after it reuse their stack): 12 strings of 64 bytes.
        let many = "printf(\"" + String(repeating: "%s", count: 12) + "\", " + (0..<12).map { "str($x\($0))" }.joined(separator: ", ") + ");"
        let errors = compileErrors("BEGIN { " + (0..<12).map { "$x\($0) = 1; " }.joined() + many + " }")
        #expect(errors.first?.contains("bytes of BPF stack") == true)
    }
}

@Suite struct TraceOutputTests {
    @Test func printfFollowsCConversions() {
        #expect(PrintfFormat.render("%d|%5d|%-5d|%x|%lu|%s|%-4s|%c|%%", [
            .integer(UInt64(bitPattern: -3), signed: true), .integer(42, signed: true), .integer(7, signed: true),
            .integer(255, signed: false), .integer(1 << 40, signed: false), .string("ab"), .string("x"), .integer(65, signed: false),
        ]) == "-3|   42|7    |ff|1099511627776|ab|x   |A|%")
        // Without a length modifier the value is an int, as C varargs would see it.
        #expect(PrintfFormat.render("%d %u", [.integer(1 << 32 | 5, signed: true), .integer(UInt64.max, signed: false)]) == "5 4294967295")
    }

    @Test func histogramLayoutMatchesBpftrace() {
        let map = TraceMap(name: "@h", keyTypes: [], kind: .hist)
        func element(_ bucket: UInt64, _ count: UInt64) -> (key: [UInt8], value: [UInt8]) {
            (withUnsafeBytes(of: UInt64(0)) { Array($0) } + withUnsafeBytes(of: bucket) { Array($0) }, withUnsafeBytes(of: count) { Array($0) })
        }
        let text = MapPrinter.render(map, elements: [element(1, 1), element(4, 2), element(12, 1)])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "@h: ")
        #expect(lines[1] == "[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |")
        #expect(lines[4] == "[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|")
        #expect(lines[12] == "[1K, 2K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |")
        #expect(text.hasSuffix("|\n\n"))
    }

    @Test func countMapsSortByValue() {
        let map = TraceMap(name: "@c", keyTypes: [.integer(signed: true)], kind: .count)
        func bytes(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
        let text = MapPrinter.render(map, elements: [(bytes(1), bytes(9)), (bytes(2), bytes(3))])
        #expect(text == "@c[2]: 3\n@c[1]: 9\n")
    }
}
