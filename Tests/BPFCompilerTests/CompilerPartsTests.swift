@testable import BPFCompiler
import BPFObject
import Foundation
import Testing

/// The pure parts of the run-time compiler: embedded headers, TRACEPOINT_PROBE structs,
/// naming conventions, clang diagnostics.
@Suite("BPFCompiler parts (no kernel)")
struct CompilerPartsTests {
    static let includeDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bpf/include/bpf")

    /// The library's copy of bpf/include/bpf/*.h matches the files (run bpf/tools/embed-headers
    /// after editing a header).
    @Test func embeddedHeadersMatchTheRepository() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.includeDirectory.path).filter { $0.hasSuffix(".h") }.sorted()
        #expect(EmbeddedHeaders.files.map(\.path) == names.map { "bpf/" + $0 })
        for file in EmbeddedHeaders.files {
            let onDisk = try String(contentsOf: Self.includeDirectory.deletingLastPathComponent().appendingPathComponent(file.path), encoding: .utf8)
            #expect(file.text + "\n" == onDisk, "\(file.path) is stale: run bpf/tools/embed-headers")
        }
    }

    @Test func conventionalSections() {
        let sections = BPFModule.conventionalSections(for: [
            "tracepoint__syscalls__sys_enter_clone", "raw_tracepoint__sys_enter", "kprobe__do_nanosleep",
            "kretprobe__vfs_read", "hello", "tracepoint__bad",
        ])
        #expect(sections == [
            "tracepoint__syscalls__sys_enter_clone": "tracepoint/syscalls/sys_enter_clone",
            "raw_tracepoint__sys_enter": "raw_tracepoint/sys_enter",
            "kprobe__do_nanosleep": "kprobe/do_nanosleep",
            "kretprobe__vfs_read": "kretprobe/vfs_read",
        ])
    }

    @Test func tracepointReferencesAreFound() {
        let source = """
            TRACEPOINT_PROBE(sched, sched_switch) { return 0; }
            int tracepoint__syscalls__sys_enter_clone(struct tracepoint__syscalls__sys_enter_clone *args) { return 0; }
            int not_tracepoint__x__y(void *ctx) { return 0; }
            """
        let found = TracepointProbeStructs.referencedTracepoints(in: source).map { "\($0.category):\($0.event)" }
        #expect(found == ["syscalls:sys_enter_clone", "sched:sched_switch"])
    }

    /// The struct follows the format's offsets: padding where the record has holes, pointers
    /// kept, integers by size and sign, __data_loc as BCC's u32.
    @Test func tracepointStructFromFormat() throws {
        let format = try TracepointFormat(parsing: """
            name: sys_enter_openat
            ID: 1
            format:
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
            \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
            \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
            \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

            \tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
            \tfield:const char * filename;\toffset:16;\tsize:8;\tsigned:0;
            \tfield:char comm[16];\toffset:24;\tsize:16;\tsigned:0;
            \tfield:__data_loc char[] name;\toffset:40;\tsize:4;\tsigned:0;
            \tfield:umode_t mode;\toffset:44;\tsize:2;\tsigned:0;

            print fmt: "x"
            """)
        let text = TracepointProbeStructs.declaration(category: "syscalls", event: "sys_enter_openat", format: format)
        #expect(text == """
            struct tracepoint__syscalls__sys_enter_openat {
            \t__u16 common_type;
            \t__u8 common_flags;
            \t__u8 common_preempt_count;
            \t__s32 common_pid;
            \t__s32 __syscall_nr;
            \tchar __pad_0[4];
            \tconst char * filename;
            \tchar comm[16];
            \t__u32 __data_loc_name;
            \t__u16 mode;
            };
            """)
    }

    @Test func clangDiagnosticsAreRead() {
        let error = BPFCompileError(sourceName: "bpf_module.c", diagnostics: """
            In file included from <built-in>:1:
            bpf_module.c:7:3: error: use of undeclared identifier 'x'
                7 |   x = 1;
            1 error generated.
            """)
        #expect(error.line == 7 && error.column == 3)
        #expect(error.message == "use of undeclared identifier 'x'")
        #expect(error.description.hasPrefix("compiling bpf_module.c:7:3 failed: use of undeclared identifier 'x'"))
    }

    /// A missing explicit clang is named; the search list is spelled out.
    @Test func clangLocatorNamesWhatItSearched() {
        #expect(throws: Error.self) {
            _ = try ClangLocator.locateUncached(environment: ["SWIFTBPF_CLANG": "/nonexistent/clang", "PATH": "/nonexistent"])
        }
        do {
            _ = try ClangLocator.locateUncached(environment: ["PATH": "/nonexistent"], toolchainClang: "/nonexistent/opt/clang")
            Issue.record("found a clang where there is none")
        } catch {
            let text = "\(error)"
            #expect(text.contains("SWIFTBPF_CLANG") && text.contains("/nonexistent/opt/clang") && text.contains("clang on PATH"))
        }
    }
}
