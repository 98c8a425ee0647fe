import BPFObject
import Foundation
import Testing
@testable import BPFTrace

private let kernelBTFPath = "/sys/kernel/btf/vmlinux"

private func compileWithKernelTypes(_ text: String) throws -> CompiledScript {
    let parsed = Parser.parse(text)
    guard let program = parsed.program, parsed.succeeded else { throw TraceError("parse failed: \(parsed.diagnostics)") }
    return try TraceCompiler.compile(program, formats: FixedFormats(), kernelTypes: {
        try BTF([UInt8](Data(contentsOf: URL(fileURLWithPath: kernelBTFPath))))
    })
}

private func errors(_ text: String) -> [String] {
    do {
        _ = try compileWithKernelTypes(text)
        return []
    } catch let failure as TraceCompiler.Failure {
        return failure.diagnostics.filter { $0.severity == .error }.map(\.message)
    } catch {
        return ["\(error)"]
    }
}

private func disassembly(_ text: String) throws -> String {
    Disassembler().text(try compileWithKernelTypes(text).probes[0].instructions)
}

/// Pointer arithmetic and comparisons are typed as bpftrace 0.17 types them (messages checked
/// against `bpftrace -e`), and `p + n` scales `n` by the pointee's size.
@Suite struct PointerArithmeticTests {
    @Test func operatorsPointersRefuseUseBpftracesMessage() {
        #expect(errors("BEGIN { $a = (int32 *)8; $b = (int32 *)16; @ = $b - $a; }") == ["The - operator can not be used on expressions of types int32 *, int32 *"])
        #expect(errors("BEGIN { $p = (int32 *)8; @ = 1 - $p; }") == ["The - operator can not be used on expressions of types int64, int32 *"])
        #expect(errors("BEGIN { $p = (int32 *)8; @ = $p * 2; }") == ["The * operator can not be used on expressions of types int32 *, int64"])
        #expect(errors("BEGIN { $p = (uint8 *)8; @ = $p + $p; }") == ["The + operator can not be used on expressions of types uint8 *, uint8 *"])
        #expect(errors(#"BEGIN { @ = (int32 *)"abc"; }"#) == [#"Cannot cast from "string" to "int32*""#])
    }

    @Test func allowedCombinationsKeepThePointerType() {
        #expect(errors("BEGIN { $p = (int32 *)8; @a = $p + 1; @b = 2 + $p; @c = $p - 1; $p += 2; $p++; @d = $p == 8; @e = $p < (int8 *)0; }") == [])
    }

    @Test func additionScalesByThePointeeSize() throws {
        #expect(try disassembly("BEGIN { @ = (int32 *)8 + 3; }").contains("r0 *= 4"))
        #expect(try disassembly("BEGIN { @ = (int64 **)8 - 1; }").contains("r0 *= 8"))
        #expect(try disassembly("BEGIN { @ = 2 + (int16 *)8; }").contains("r0 *= 2"))
        // int8 elements need no scaling at all.
        #expect(!(try disassembly("BEGIN { @ = (uint8 *)8 + 3; }").contains("*=")))
    }

    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: kernelBTFPath)))
    func structPointersStepByTheStructSize() throws {
        let btf = try BTF([UInt8](Data(contentsOf: URL(fileURLWithPath: kernelBTFPath))))
        let size = try btf.size(of: try #require(btf.typeIDs(named: "task_struct", kind: .struct).first))
        #expect(try disassembly("BEGIN { @ = (struct task_struct *)curtask + 1; }").contains("r0 *= \(size)"))
    }
}

/// `[i]` on tracepoint arrays, kernel struct arrays and pointers; `*p` of typed pointers.
@Suite struct IndexingTests {
    @Test func tracepointArrayFieldsIndexTheRecord() throws {
        // args[2] is at offset 16 + 2 * 8 of the record in r9.
        #expect(try disassembly("tracepoint:raw_syscalls:sys_enter { @ = args->args[2]; }").contains("r0 = *(u64 *)(r9 +32)"))
        #expect(errors("tracepoint:raw_syscalls:sys_enter { @ = args->args[6]; }") == ["the index 6 is out of bounds for array of size 6"])
        #expect(errors("tracepoint:raw_syscalls:sys_enter { @ = args->id[0]; }") == ["The array index operator [] can only be used on arrays and pointers, found integer."])
        // A variable index is read through bpf_probe_read_kernel (the verifier allows only constant context offsets).
        #expect(try disassembly("tracepoint:raw_syscalls:sys_enter { $i = 1; @ = args->args[$i]; }").contains("call bpf_probe_read_kernel"))
    }

    /// A whole tracepoint array can sit in a variable (and be indexed) but, as in bpftrace, not
    /// in a map: it stays part of the context.
    @Test func tracepointArraysStayInTheContext() throws {
        #expect(errors("tracepoint:raw_syscalls:sys_enter { $a = args->args; @ = $a[1]; }") == [])
        #expect(try disassembly("tracepoint:raw_syscalls:sys_enter { $a = args->args; @ = $a[5]; }").contains("r1 = *(u64 *)(r9 +56)"))
        #expect(errors("tracepoint:raw_syscalls:sys_enter { $a = args->args; @x = $a; }") == ["context cannot be assigned to a map"])
        #expect(errors("tracepoint:raw_syscalls:sys_enter { @x = args->args; }") == ["context cannot be assigned to a map"])
        #expect(errors("tracepoint:raw_syscalls:sys_enter { @x[args->args] = 1; }") == ["context cannot be used as a map key"])
    }

    /// A syscall tracepoint's pointer stays a user address through casts; uptr()/kptr() choose.
    @Test func castsKeepTheOperandsAddressSpace() throws {
        #expect(try disassembly("tracepoint:syscalls:sys_enter_openat { @ = *(uint8 *)args->filename; }").contains("call bpf_probe_read_user"))
        #expect(try disassembly("tracepoint:syscalls:sys_enter_openat { @ = *(uint8 *)kptr(args->filename); }").contains("call bpf_probe_read_kernel"))
        #expect(try disassembly("BEGIN { @ = *(uint8 *)uptr(0); }").contains("call bpf_probe_read_user"))
        #expect(try disassembly("BEGIN { @ = *(uint8 *)0; }").contains("call bpf_probe_read_kernel"))
    }

    @Test func typedPointersReadTheirPointeeSize() throws {
        // *(int16 *)p reads two bytes and sign-extends them.
        let text = try disassembly("BEGIN { @ = *(int16 *)curtask; }")
        #expect(text.contains("r2 = 2") && text.contains("r0 s>>= 48"))
        #expect(try disassembly("BEGIN { $p = (uint32 *)curtask; @ = $p[3]; }").contains("r0 += 12"))
    }

    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: kernelBTFPath)))
    func kernelArraysAndStringsFollowBpftrace() {
        #expect(errors("BEGIN { @ = curtask->comm[0]; }") == ["The array index operator [] can only be used on arrays and pointers, found string."])
        #expect(errors("BEGIN { @ = curtask->mm->saved_auxv[100]; }").first?.hasPrefix("the index 100 is out of bounds for array of size ") == true)
        #expect(errors("BEGIN { $t = (struct task_struct *)curtask; @ = $t[0]->pid; }") == ["Can not dereference struct/union of type 'struct task_struct'. It is not a pointer."])
        #expect(errors("BEGIN { @a = curtask->mm->saved_auxv[1]; @b = curtask[0].pid; @c = (*curtask).tgid; }") == [])
    }

    /// Arrays of wider integers read whole are values (`[4096,131072,6291456]`); held in a
    /// variable they take literal indexes only, as in bpftrace 0.17.
    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: kernelBTFPath)))
    func wholeIntegerArraysAreValues() throws {
        let script = try compileWithKernelTypes("BEGIN { @w = curtask->nsproxy->net_ns->ipv4.sysctl_tcp_wmem; }")
        #expect(script.maps[0].kind == .value(.integerArray(elementSize: 4, signed: true, count: 3)))
        let rmem = "$r = curtask->nsproxy->net_ns->ipv4.sysctl_tcp_rmem;"
        #expect(errors("BEGIN { \(rmem) @ = $r[3]; }") == ["the index 3 is out of bounds for array of size 3"])
        #expect(errors("BEGIN { \(rmem) $i = 1; @ = $r[$i]; }") == ["The array index operator [] only accepts literal integer indices."])
        #expect(errors(#"BEGIN { \#(rmem) printf("%s\n", $r); }"#) == ["printf: %s specifier expects a value of type string (array supplied)"])
        // An element of an array reached through pointers is read alone, not the whole array.
        #expect(!(try disassembly("BEGIN { @ = curtask->mm->saved_auxv[2]; }").contains("r2 = 448")))
        #expect(try disassembly("BEGIN { @ = curtask->mm->saved_auxv; }").contains("r2 = 448"))
    }
}

/// sizeof/offsetof/enum constants, bitfield layout and print() refusals against this kernel's BTF.
@Suite(.enabled(if: FileManager.default.isReadableFile(atPath: kernelBTFPath))) struct KernelTypeConstantTests {
    let btf: BTF

    init() throws {
        btf = try BTF([UInt8](Data(contentsOf: URL(fileURLWithPath: kernelBTFPath))))
    }

    /// The `mov r0, imm` the constant compiles to.
    func constant(_ expression: String) throws -> String {
        let lines = Disassembler().lines(try compileWithKernelTypes("BEGIN { @ = \(expression); }").probes[0].instructions)
        return lines.first { $0.contains("r0 = ") } ?? ""
    }

    @Test func sizeofNamesTypesAndExpressions() throws {
        let task = try btf.size(of: try #require(btf.typeIDs(named: "task_struct", kind: .struct).first))
        #expect(try constant("sizeof(struct task_struct)").hasSuffix("r0 = \(task)"))
        #expect(try constant("sizeof(uint16)").hasSuffix("r0 = 2"))
        #expect(try constant("sizeof(curtask->pid)").hasSuffix("r0 = 4"))
        #expect(try constant("sizeof(curtask->comm)").hasSuffix("r0 = 16"))
        #expect(try constant(#"sizeof("abc")"#).hasSuffix("r0 = 4"))
        #expect(errors("BEGIN { @ = sizeof(struct nosuch); }") == ["Unknown identifier: 'struct nosuch'"])
        #expect(errors("BEGIN { @ = sizeof(nosuch); }") == ["Unknown identifier: 'nosuch'"])
    }

    @Test func offsetofFollowsNestedMembers() throws {
        let task = try #require(btf.typeIDs(named: "task_struct", kind: .struct).first)
        let pid = try btf.field("pid", in: task).byteOffset
        let utime = try btf.field("se.avg", in: task).byteOffset
        #expect(try constant("offsetof(struct task_struct, pid)").hasSuffix("r0 = \(pid)"))
        #expect(try constant("offsetof(struct task_struct, se.avg)").hasSuffix("r0 = \(utime)"))
        #expect(errors("BEGIN { @ = offsetof(struct task_struct, nosuch); }") == ["'struct task_struct' has no field named 'nosuch'"])
    }

    @Test func enumConstantsAreUnsigned() throws {
        #expect(try constant("BPF_MAP_TYPE_HASH").hasSuffix("r0 = 1"))
        #expect(errors("BEGIN { @ = TASK_RUNNING; }") == ["Unknown identifier: 'TASK_RUNNING'"])
        let script = try compileWithKernelTypes("BEGIN { @e = BPF_MAP_TYPE_ARRAY - 5; }")
        #expect(script.maps[0].kind == .value(.integer(signed: false)))
    }

    @Test func bitfieldsReadTheirBits() throws {
        let path = try MemoryPath.resolve(pointerTo: .record(name: "signal_struct", isUnion: false),
                                          accessors: [.field("has_child_subreaper", arrow: true)]) { btf }
        let signal = try #require(btf.typeIDs(named: "signal_struct", kind: .struct).first)
        let field = try btf.field("has_child_subreaper", in: signal)
        guard case .bitfield(let bytes, let shift, let bits, let signed) = path.result else {
            Issue.record("not a bitfield: \(path.result)")
            return
        }
        #expect(bits == 1 && !signed && shift == Int(field.bitOffset % 8) && bytes == 1)
        // Shift the bit to the top, then down again (logical for unsigned fields).
        let text = try disassembly("BEGIN { @ = curtask->signal->has_child_subreaper; }")
        #expect(text.contains("r0 <<= \(63 - shift)") && text.contains("r0 >>= 63"))
    }

    @Test func printRefusesPointersAndArgs() {
        #expect(errors("BEGIN { print(curtask); }") == ["struct task_struct * type passed to print() is not printable"])
        #expect(errors("BEGIN { print((int32 *)0); }") == ["int32 * type passed to print() is not printable"])
        #expect(errors("tracepoint:raw_syscalls:sys_enter { print(args); }") == ["(ctx) struct _tracepoint_raw_syscalls_sys_enter * type passed to print() is not printable"])
    }
}
