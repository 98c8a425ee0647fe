import BPF
import BPFCompiler
import BPFObject
import Foundation
import Testing

/// getppid's system call number (x86-64: 110, arm64: 173), as the kernel reports it.
#if arch(x86_64)
let getppidNumber = 110
#else
let getppidNumber = 173
#endif

/// BPFModule against the real kernel: C text compiled at run time, loaded, attached, and its
/// effects observed (trace lines, map counts, perf and ring buffer records).
@Suite("BPFModule: BCC-style run-time compile, load, attach", .kernel, .serialized)
struct BPFModuleTests {
    /// A TRACEPOINT_PROBE program printing with bpf_trace_printk, attached by its name and
    /// read back from our private trace instance as parsed fields.
    @Test func tracepointProbeFromTextPrintsToTrace() throws {
        let marker = UInt32.random(in: 100_000...999_999)
        let module = try BPFModule(source: """
            TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                if ((bpf_get_current_pid_tgid() >> 32) != \(getpid()))
                    return 0;
                bpf_trace_printk("bcc-test %d nr %d\\n", \(marker), args->__syscall_nr);
                return 0;
            }
            """)
        #expect(try module.autoAttach() == ["tracepoint__syscalls__sys_enter_getppid"])
        try module.openTrace()
        let threadID = currentThreadID()
        _ = getppid()
        var seen: TracePipeLine?
        let deadline = ContinuousClock.now + .seconds(5)
        while seen == nil, ContinuousClock.now < deadline {
            guard let line = try module.traceFields(timeout: .seconds(1)) else { continue }
            if line.message.hasPrefix("bcc-test \(marker)") { seen = line }
        }
        let line = try #require(seen)
        #expect(line.pid == threadID)
        #expect(line.message == "bcc-test \(marker) nr \(getppidNumber)")
        #expect(line.event == "bpf_trace_printk")
        // The private tracefs instance goes with the module.
        let instances = { (try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/tracing/instances")) ?? [] }
        #expect(instances().contains { $0.hasPrefix("swiftbpf_bcc_\(getpid())_") })
        module.close()
        #expect(!instances().contains { $0.hasPrefix("swiftbpf_bcc_\(getpid())_") })
        #expect(throws: BPFError.self) { try module.traceReadline(timeout: .zero) }
    }

    /// A plain function attached explicitly (BCC's attach_tracepoint(tp=..., fn_name=...))
    /// counting in a BPF_HASH, read by name with typed get/items/clear.
    @Test func explicitAttachAndMapByName() throws {
        let module = try BPFModule(source: """
            BPF_HASH(counts, u32, u64);
            int count_getppid(void *ctx) {
                u32 pid = bpf_get_current_pid_tgid() >> 32;
                if (pid != \(getpid()))
                    return 0;
                bcc_map_increment(&counts, &pid, 1);
                return 0;
            }
            """)
        #expect(module.functions == ["count_getppid"])
        try module.attachTracepoint("syscalls:sys_enter_getppid", function: "count_getppid")
        for _ in 0..<7 { _ = getppid() }
        let counts = try module["counts"]
        #expect(try counts.get(UInt32(getpid()), as: UInt64.self) == 7)
        let items = try counts.items(keyType: UInt32.self, valueType: UInt64.self)
        #expect(items.count == 1 && items[0].key == UInt32(getpid()) && items[0].value == 7)
        try counts.set(UInt32(1), UInt64(99))
        #expect(try counts.keys(as: UInt32.self).sorted() == [1, UInt32(getpid())])
        #expect(try counts.delete(UInt32(1)))
        try counts.clear()
        #expect(try counts.items(keyType: UInt32.self, valueType: UInt64.self).isEmpty)
        // Wrong sizes are refused with the map's sizes.
        #expect(throws: BPFError.self) { try counts.get(UInt64(1), as: UInt64.self) }
        #expect(throws: BPFError.self) { try module.table("missing") }
    }

    /// BPF_PERF_OUTPUT with bpf_perf_event_output; records decoded in the callback.
    @Test func perfOutputDeliversStructs() throws {
        let module = try BPFModule(source: """
            struct data_t { u32 pid; u64 ts; char comm[TASK_COMM_LEN]; };
            BPF_PERF_OUTPUT(events);
            int tracepoint__syscalls__sys_enter_getppid(void *ctx) {
                struct data_t data = {};
                data.pid = bpf_get_current_pid_tgid() >> 32;
                if (data.pid != \(getpid()))
                    return 0;
                data.ts = bpf_ktime_get_ns();
                bpf_get_current_comm(&data.comm, sizeof(data.comm));
                bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &data, sizeof(data));
                return 0;
            }
            """)
        var records: [(pid: UInt32, ts: UInt64, comm: String)] = []
        try module.openPerfBuffer("events") { _, data in
            records.append((data.value(at: 0, as: UInt32.self) ?? 0, data.value(at: 8, as: UInt64.self) ?? 0, data.cString(at: 16, count: 16)))
        }
        try module.autoAttach()
        let threadComm = ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .newlines)
        for _ in 0..<3 { _ = getppid() }
        let deadline = ContinuousClock.now + .seconds(5)
        while records.count < 3, ContinuousClock.now < deadline { try module.perfBufferPoll(timeout: .milliseconds(200)) }
        #expect(records.count == 3)
        #expect(records.allSatisfy { $0.pid == UInt32(getpid()) && $0.ts > 0 })
        #expect(!threadComm.isEmpty && records.allSatisfy { $0.comm == threadComm })
    }

    /// BPF_RINGBUF_OUTPUT with bpf_ringbuf_output and a raw tracepoint by naming convention.
    @Test func ringBufferAndRawTracepointConvention() throws {
        let module = try BPFModule(source: """
            BPF_RINGBUF_OUTPUT(ring, 4);
            RAW_TRACEPOINT_PROBE(sys_enter) {
                if ((bpf_get_current_pid_tgid() >> 32) != \(getpid()) || ctx->args[1] != \(getppidNumber))
                    return 0;
                u64 nr = ctx->args[1];
                bpf_ringbuf_output(&ring, &nr, sizeof(nr), 0);
                return 0;
            }
            """)
        var numbers: [UInt64] = []
        try module.openRingBuffer("ring") { data in numbers.append(data.value(at: 0, as: UInt64.self) ?? 0) }
        #expect(try module.autoAttach() == ["raw_tracepoint__sys_enter"])
        _ = getppid(); _ = getppid()
        let deadline = ContinuousClock.now + .seconds(5)
        while numbers.count < 2, ContinuousClock.now < deadline { try module.ringBufferPoll(timeout: .milliseconds(200)) }
        #expect(numbers == [UInt64(getppidNumber), UInt64(getppidNumber)])
    }

    /// Regex attach over available_events: one program on every sys_enter_getpp*/getpgid.
    @Test func regexAttachOverTracepoints() throws {
        let module = try BPFModule(source: """
            BPF_ARRAY(hits, u64, 1);
            int on_any(void *ctx) {
                if ((bpf_get_current_pid_tgid() >> 32) != \(getpid()))
                    return 0;
                int zero = 0;
                u64 *value = bpf_map_lookup_elem(&hits, &zero);
                if (value)
                    __sync_fetch_and_add(value, 1);
                return 0;
            }
            """)
        let attached = try module.attachTracepoint(regex: "syscalls:sys_enter_getp(id|gid)$", function: "on_any")
        #expect(Set(attached) == ["syscalls:sys_enter_getpid", "syscalls:sys_enter_getpgid"])
        _ = getpid(); _ = getpgid(0); _ = getppid()
        #expect(try module["hits"].get(Int32(0), as: UInt64.self) == 2)
        #expect(throws: BPFError.self) { try module.attachTracepoint(regex: "nosuchcategory:", function: "on_any") }
        #expect(throws: BPFError.self) { try module.attachTracepoint(regex: "([", function: "on_any") }
    }

    /// A histogram filled in BPF (bcc_log2l slots) prints in BCC's layout.
    @Test func log2HistogramFromKernel() throws {
        let module = try BPFModule(source: """
            BPF_HISTOGRAM(dist);
            int tracepoint__syscalls__sys_enter_getppid(void *ctx) {
                if ((bpf_get_current_pid_tgid() >> 32) != \(getpid()))
                    return 0;
                int slot = bcc_log2l(1000);   /* 512..1023 -> slot 10 */
                u64 *count = bpf_map_lookup_elem(&dist, &slot);
                if (count)
                    __sync_fetch_and_add(count, 1);
                return 0;
            }
            """)
        try module.autoAttach()
        for _ in 0..<4 { _ = getppid() }
        let buckets = try module["dist"].histogramBuckets()
        #expect(buckets[10] == 4)
        let text = Histogram.log2(buckets, valueType: "usecs")
        #expect(text.contains("       512 -> 1023       : 4        |****************************************|"))
    }

    /// C errors: clang's message with the line and column in the caller's text.
    @Test func compileErrorPointsIntoTheSource() throws {
        do {
            _ = try BPFModule(source: """
                int tracepoint__syscalls__sys_enter_getppid(void *ctx) {
                    return undeclared_thing;
                }
                """)
            Issue.record("compiling an undeclared identifier succeeded")
        } catch let error as BPFCompileError {
            #expect(error.sourceName == "bpf_module.c")
            #expect(error.line == 2)
            #expect(error.column == 12)
            #expect(error.message.contains("undeclared_thing"))
            #expect(error.diagnostics.contains("bpf_module.c:2:12: error:"))
        }
    }

    /// Verifier rejections carry the log and the C line of the failing instruction.
    @Test func verifierRejectionNamesTheSourceLine() throws {
        do {
            _ = try BPFModule(source: """
                BPF_HASH(table, u32, u64);
                int tracepoint__syscalls__sys_enter_getppid(void *ctx) {
                    u32 key = 0;
                    u64 *value = bpf_map_lookup_elem(&table, &key);
                    return *value;   /* no NULL check */
                }
                """)
            Issue.record("an unchecked map value load passed the verifier")
        } catch BPFError.verifierRejected(let rejection) {
            #expect(rejection.log.contains("invalid mem access"))
            #expect(rejection.sourceLine?.contains("return *value;") == true, "\(rejection.sourceLine ?? "no source line")")
        }
    }

    /// kprobes: the convention loads the program; attaching says clearly that this kernel has
    /// no kprobes (or works where it has them).
    @Test func kprobeConventionReportsMissingKprobes() throws {
        let module = try BPFModule(source: """
            int kprobe__do_nanosleep(struct pt_regs *ctx) { return 0; }
            """)
        let hasKprobes = FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe")
        if hasKprobes {
            #expect(try module.autoAttach() == ["kprobe__do_nanosleep"])
        } else {
            #expect {
                try module.autoAttach()
            } throws: { error in
                guard case BPFError.unsupported(let feature, _) = error else { return false }
                return feature == "kprobes"
            }
        }
    }

    /// The syscall entry function name carries the architecture's wrapper prefix.
    @Test func syscallFunctionName() throws {
        let name = try BPFModule.syscallFunctionName("clone")
        #if arch(x86_64)
        #expect(name == "__x64_sys_clone")
        #endif
        #expect(try BPFModule.syscallFunctionName("sys_clone") == name)
        #expect(throws: BPFError.self) { try BPFModule.syscallFunctionName("no_such_call_xyz") }
    }

    /// Explicit uprobe attach on a function of a binary this test runs.
    @Test func uprobeByLibrarySymbol() throws {
        let module = try BPFModule(source: """
            BPF_ARRAY(calls, u64, 1);
            int on_getpid_wrapper(struct pt_regs *ctx) {
                if ((bpf_get_current_pid_tgid() >> 32) != \(getpid()))
                    return 0;
                int zero = 0;
                u64 *value = bpf_map_lookup_elem(&calls, &zero);
                if (value)
                    __sync_fetch_and_add(value, 1);
                return 0;
            }
            """)
        try module.attachUprobe(binary: "c", symbol: "getppid", function: "on_getpid_wrapper", pid: getpid())
        for _ in 0..<3 { _ = getppid() }
        #expect(try module["calls"].get(Int32(0), as: UInt64.self) == 3)
    }

    /// Functions that do not exist, and closed modules, fail clearly.
    @Test func badFunctionNamesAndClose() throws {
        let module = try BPFModule(source: "int hello(void *ctx) { return 0; }\nstatic int helper(void) { return 1; }")
        #expect(throws: BPFError.self) { try module.attachTracepoint("syscalls:sys_enter_getppid", function: "nope") }
        #expect(throws: BPFError.self) { try module.attachTracepoint("nosuch:event", function: "hello") }
        try module.attachTracepoint("syscalls:sys_enter_getppid", function: "hello")
        module.close()
        #expect(throws: BPFError.self) { try module.attachRawTracepoint("sys_enter", function: "hello") }
    }

    /// The README's BCC-style example, as written there (plus an exec to observe).
    @Test func readmeExample() throws {
        let module = try BPFModule(source: """
            BPF_HASH(counts, u32, u64);
            TRACEPOINT_PROBE(syscalls, sys_enter_execve) {
                u32 uid = bpf_get_current_uid_gid();
                bcc_map_increment(&counts, &uid, 1);
                bpf_trace_printk("exec by uid %d\\n", uid);
                return 0;
            }
            """)
        try module.autoAttach()
        try module.openTrace()
        try runTrue(1)
        let line = try #require(try module.traceReadline(timeout: .seconds(5)))
        #expect(line.contains("bpf_trace_printk: exec by uid "))
        let counts = try module["counts"].items(keyType: UInt32.self, valueType: UInt64.self)
        #expect(counts.contains { $0.key == getuid() && $0.value >= 1 })
    }

    /// cflags reach clang (BCC's `cflags=["-DX=..."]`), and libbpf-style SEC() programs in the
    /// same text load and auto-attach by section alongside BCC-style ones.
    @Test func cflagsAndSectionProgramsTogether() throws {
        let module = try BPFModule(source: """
            BPF_ARRAY(hits, u64, 2);
            static __always_inline void bump(int slot) {
                if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID)
                    return;
                u64 *value = bpf_map_lookup_elem(&hits, &slot);
                if (value)
                    __sync_fetch_and_add(value, 1);
            }
            SEC("tracepoint/syscalls/sys_enter_getppid")
            int libbpf_style(void *ctx) { bump(0); return 0; }
            int tracepoint__syscalls__sys_exit_getppid(void *ctx) { bump(1); return 0; }
            """, cflags: ["-DTARGET_PID=\(getpid())"])
        #expect(Set(try module.autoAttach()) == ["libbpf_style", "tracepoint__syscalls__sys_exit_getppid"])
        for _ in 0..<5 { _ = getppid() }
        let hits = try module["hits"].items(keyType: Int32.self, valueType: UInt64.self).sorted { $0.key < $1.key }
        #expect(hits.map(\.value) == [5, 5])
    }
}
