import BPFObject
import Foundation
import Testing
@testable import BPFTrace

/// Compiles `text` with fixed symbol addresses and renders its diagnostics as bpftrace prints them.
func renderedCompileErrors(_ text: String, options: TraceCompileOptions = SymbolFunctionTests.options) -> String {
    let file = SourceFile(name: "stdin", text: text)
    let parsed = Parser.parse(file)
    guard let program = parsed.program, parsed.succeeded else { return DiagnosticRenderer(file: file).render(parsed.diagnostics) }
    do {
        _ = try TraceCompiler.compile(program, formats: FixedFormats(), options: options)
        return ""
    } catch let failure as TraceCompiler.Failure {
        return DiagnosticRenderer(file: file).render(failure.diagnostics)
    } catch {
        return "\(error)"
    }
}

/// kstack/ustack, ksym/usym, kaddr/uaddr: types, stack maps, and bpftrace's error messages
/// (captured from bpftrace 0.17 on the same one-liners).
@Suite struct SymbolFunctionTests {
    static let options: TraceCompileOptions = {
        var options = TraceCompileOptions()
        options.kernelSymbolAddress = { $0 == "do_syscall_64" ? 0xffff_ffff_8100_1000 : nil }
        options.userSymbolAddress = { binary, symbol in binary == "/bin/x" && symbol == "counter" ? 0x4010 : nil }
        return options
    }()

    @Test func stackMapsOnePerFrameLimit() throws {
        var options = Self.options
        options.stringLength = 64
        let parsed = try #require(Parser.parse("BEGIN { @a[kstack] = count(); @b[ustack(perf, 3)] = count(); @c = kstack(5); @d = ustack; }").program)
        let script = try TraceCompiler.compile(parsed, formats: FixedFormats(), options: options)
        #expect(script.stackMapLimits == [127, 3, 5])
        #expect(script.maps.first { $0.name == "@a" }?.keyTypes == [.kernelStack(TraceStack(mode: .bpftrace, limit: 127))])
        #expect(script.maps.first { $0.name == "@b" }?.keyTypes == [.userStack(TraceStack(mode: .perf, limit: 3))])
        // Stack ids are u64 map keys: the key stays 8 bytes.
        #expect(script.maps.first { $0.name == "@a" }?.keySize == 8)
    }

    @Test func symbolValuesTakeTheirStorage() throws {
        let parsed = try #require(Parser.parse(#"BEGIN { @k[ksym(kaddr("do_syscall_64"))] = count(); @u[usym(0x10)] = count(); $s = usym(1); printf("%s %s\n", $s, ksym(2)); }"#).program)
        let script = try TraceCompiler.compile(parsed, formats: FixedFormats(), options: Self.options)
        #expect(script.maps.first { $0.name == "@k" }?.keySize == 8)
        #expect(script.maps.first { $0.name == "@u" }?.keySize == 16)
        #expect(script.formats.first?.argumentTypes == [.userSymbol, .kernelSymbol])
    }

    @Test(arguments: [
        (#"BEGIN { printf("%s\n", ksym("abc")); }"#, "stdin:1:24-35: ERROR: ksym() expects an integer or pointer argument\nBEGIN { printf(\"%s\\n\", ksym(\"abc\")); }\n                       ~~~~~~~~~~~\n"),
        (#"BEGIN { printf("%s\n", usym(comm)); }"#, "stdin:1:24-34: ERROR: usym() expects an integer or pointer argument\nBEGIN { printf(\"%s\\n\", usym(comm)); }\n                       ~~~~~~~~~~\n"),
        (#"BEGIN { $x = "a"; printf("%d\n", kaddr($x)); }"#, "stdin:1:34-43: ERROR: kaddr() expects a string literal (string provided)\nBEGIN { $x = \"a\"; printf(\"%d\\n\", kaddr($x)); }\n                                 ~~~~~~~~~\n"),
        (#"BEGIN { printf("%s\n", kstack(3, 4)); }"#, "stdin:1:24-36: ERROR: kstack() expects a stack mode literal (integer provided)\nBEGIN { printf(\"%s\\n\", kstack(3, 4)); }\n                       ~~~~~~~~~~~~\n"),
        (#"BEGIN { printf("%s\n", kstack(perf, -1)); }"#, "stdin:1:24-40: ERROR: kstack([int limit]): limit shouldn't exceed 1024, 18446744073709551615 given\nBEGIN { printf(\"%s\\n\", kstack(perf, -1)); }\n                       ~~~~~~~~~~~~~~~~\n"),
        (#"BEGIN { printf("%s\n", kstack(1,2,3)); }"#, "stdin:1:24-37: ERROR: kstack() takes up to 2 arguments (3 provided)\nBEGIN { printf(\"%s\\n\", kstack(1,2,3)); }\n                       ~~~~~~~~~~~~~\n"),
        ("BEGIN { @x = kstack + 1; }", "stdin:1:14-24: ERROR: Type mismatch for '+': comparing 'kstack' with 'int64'\nBEGIN { @x = kstack + 1; }\n             ~~~~~~~~~~\n"),
        (#"BEGIN { printf("%d\n", kstack); }"#, "stdin:1:9-31: ERROR: printf: %d specifier expects a value of type integer (string supplied)\nBEGIN { printf(\"%d\\n\", kstack); }\n        ~~~~~~~~~~~~~~~~~~~~~~\n"),
    ] as [(String, String)])
    func badArgumentsGiveBpftraceErrors(_ script: String, _ expected: String) {
        #expect(renderedCompileErrors(script) == expected)
    }

    @Test func unresolvableSymbolsAreErrors() {
        #expect(renderedCompileErrors(#"BEGIN { @ = kaddr("avenrun"); }"#).contains("ERROR: Failed to resolve kernel symbol: avenrun"))
        #expect(renderedCompileErrors(#"t:syscalls:sys_enter_openat { @ = uaddr("x"); }"#).contains(#"ERROR: uaddr can not be used with "tracepoint" probes"#))
        #expect(renderedCompileErrors(#"uprobe:/bin/x:main { @ = uaddr("nope"); }"#).contains("ERROR: Could not resolve symbol: /bin/x:nope"))
        #expect(renderedCompileErrors(#"uprobe:/bin/x:main { @ = uaddr("counter"); }"#) == "")
        #expect(renderedCompileErrors(#"BEGIN { printf("%s\n", kstack(foo)); }"#).contains("ERROR: Unknown identifier: 'foo'"))
        #expect(renderedCompileErrors(#"BEGIN { @ = kstack(200); }"#).contains("perf_event_max_stack"))
        // A map keeps one kind of stack.
        #expect(renderedCompileErrors("BEGIN { @[kstack] = count(); @[ustack] = count(); }").contains("Argument mismatch for @"))
    }
}

/// Struct casts and member chains: errors as bpftrace words them (their BTF checks need kernel
/// BTF, so these run against /sys/kernel/btf/vmlinux when it is readable).
@Suite struct StructCastErrorTests {
    static func errors(_ text: String) -> String {
        let file = SourceFile(name: "stdin", text: text)
        guard let program = Parser.parse(file).program else { return "parse failed" }
        do {
            _ = try TraceCompiler.compile(program, formats: FixedFormats(), options: SymbolFunctionTests.options,
                                          kernelTypes: { try BTF([UInt8](Data(contentsOf: URL(fileURLWithPath: "/sys/kernel/btf/vmlinux")))) })
            return ""
        } catch let failure as TraceCompiler.Failure {
            return DiagnosticRenderer(file: file).render(failure.diagnostics)
        } catch {
            return "\(error)"
        }
    }

    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: "/sys/kernel/btf/vmlinux")))
    func badCastsAndMembers() {
        // Exactly one error each: uses of a variable whose value failed stay quiet.
        let unknown = Self.errors(#"BEGIN { $t = (struct nosuch_x *)curtask; printf("%d\n", $t->pid); }"#)
        #expect(unknown.hasPrefix("stdin:1:14-40: ERROR: Unknown struct/union: 'struct nosuch_x'\n"), "\(unknown)")
        #expect(unknown.components(separatedBy: "ERROR").count == 2, "\(unknown)")
        #expect(Self.errors("BEGIN { $t = (struct task_struct)curtask; }").contains(#"ERROR: Cannot cast to struct type "struct task_struct""#))
        #expect(Self.errors(#"BEGIN { $t = (struct task_struct *)curtask; @ = $t->nope; }"#).contains("ERROR: Struct/union of type 'struct task_struct' does not contain a field named 'nope'"))
        #expect(Self.errors(#"BEGIN { $t = (struct task_struct *)curtask; @ = $t.pid; }"#).contains("ERROR: Can not access field 'pid' on type 'struct task_struct *'. Try dereferencing it first, or using '->'"))
        #expect(Self.errors(#"BEGIN { $t = (struct task_struct *)"abc"; }"#).contains("ERROR: Cannot cast from"))
        #expect(Self.errors(#"BEGIN { $t = (struct task_struct *)curtask; @ = $t->real_parent->comm; @p = $t->real_parent; }"#) == "")
    }
}

/// Tuples, buf() and strftime(): types and bpftrace's errors.
@Suite struct ValueTypeTests {
    @Test func tuplesBuffersAndTimestampsType() throws {
        let parsed = try #require(Parser.parse(#"BEGIN { @t = (1, "ab", (2, 3)); @b = buf(0, 5); @s = strftime("%H", nsecs); }"#).program)
        let script = try TraceCompiler.compile(parsed, formats: FixedFormats())
        #expect(script.maps.first { $0.name == "@t" }?.kind == .value(.tuple([.integer(signed: true), .string(size: 8), .tuple([.integer(signed: true), .integer(signed: true)])])))
        #expect(script.maps.first { $0.name == "@b" }?.kind.valueSize == 16)
        #expect(script.maps.first { $0.name == "@s" }?.kind == .value(.timestamp(format: "%H")))
    }

    @Test func decodedAsBpftracePrintsThem() {
        var record = [UInt8](repeating: 0, count: 48)
        record.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: UInt64(5), toByteOffset: 0, as: UInt64.self)
            for (index, byte) in [0x61, 0x00, 0x7f, 0x20, 0xff].enumerated() { bytes[8 + index] = UInt8(byte) }
        }
        let text = record.withUnsafeBytes { TraceValue.decode(.buffer(capacity: 8), $0, at: 0).text }
        #expect(text == #"a\x00\x7f \xff"#)
        let tuple = record.withUnsafeBytes { TraceValue.decode(.tuple([.integer(signed: false), .string(size: 8)]), $0, at: 0).text }
        #expect(tuple == "(5, a)")
        #expect(WallClock.format(bootNanoseconds: 1_234_567_000, "%f").count == 6)
    }

    @Test(arguments: [
        (#"BEGIN { @x[(1, 2)] = 1; }"#, "tuple cannot be used as a map key. Try a multi-key associative array instead (eg `@map[$1, $2] = ...)`."),
        (#"BEGIN { printf("%s\n", (1,2)); }"#, "printf: %s specifier expects a value of type string (tuple supplied)"),
        (#"BEGIN { $t = (1, 2); @ = $t.5; }"#, "Invalid tuple index: 5. Found 2 elements in tuple."),
        (#"BEGIN { printf("%r\n", 5); }"#, "printf: %r specifier expects a value of type buffer (int64 supplied)"),
        (#"BEGIN { @ = buf("x", 2); }"#, "buf() expects an integer or pointer argument (string provided)"),
        (#"BEGIN { @ = strftime(1, 2); }"#, "strftime() expects a string literal (int64 provided)"),
        (#"BEGIN { @ = strftime("%H", "x"); }"#, "strftime() expects an integer for argument 2 (string provided)"),
    ] as [(String, String)])
    func badValues(_ script: String, _ message: String) {
        #expect(renderedCompileErrors(script).contains("ERROR: " + message), "\(renderedCompileErrors(script))")
    }
}
