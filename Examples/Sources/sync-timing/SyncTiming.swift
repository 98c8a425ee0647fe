import ArgumentParser
import BPF
import BPFCompiler
import ExampleSupport
import Foundation

/// BCC's sync_timing.py: remembers the time of each sync(2) in a hash map (`last`, key 0) and,
/// when the next comes less than a second later, prints the gap in ms with bpf_trace_printk;
/// user space reads the trace fields and prints "At time T s: multiple syncs detected, last N ms
/// ago", T counted from the first such line. The original used a kprobe on the sync syscall;
/// here `do_trace` is on the tracepoint syscalls:sys_enter_sync (`--kprobe` tries the original).
@main
struct SyncTiming: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync-timing",
        abstract: "Detect two sync(2) calls less than one second apart, timed in a BPF hash map.",
        discussion: """
            The BPF side (C text in this file) keeps the last sync's timestamp in \
            BPF_HASH(last) under key 0, and prints the delta in ms through bpf_trace_printk \
            when it is under 1 s; this side prints each such report from the trace fields.

            EXAMPLES:
              sync-timing            # then run: sync; sync
              sync-timing --kprobe   # the original's kprobe on __x64_sys_sync (needs kprobes)
            """)

    @Flag(help: "Attach a kprobe to the kernel's sync entry function, as the original; fails clearly on kernels without kprobes.")
    var kprobe = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        let module = try BPFModule(source: """
            BPF_HASH(last);

            int do_trace(void *ctx)
            {
                u64 ts, *tsp, delta, key = 0;

                // attempt to read stored timestamp
                tsp = bpf_map_lookup_elem(&last, &key);
                if (tsp != NULL) {
                    delta = bpf_ktime_get_ns() - *tsp;
                    if (delta < 1000000000) {
                        // output if time is less than 1 second
                        bpf_trace_printk("%d\\n", delta / 1000000);
                    }
                    bpf_map_delete_elem(&last, &key);
                }

                // update stored timestamp
                ts = bpf_ktime_get_ns();
                bpf_map_update_elem(&last, &key, &ts, BPF_ANY);
                return 0;
            }
            """)
        defer { module.close() }
        if kprobe {
            try module.attachKprobe(event: try BPFModule.syscallFunctionName("sync"), function: "do_trace")
        } else {
            try module.attachTracepoint("syscalls:sys_enter_sync", function: "do_trace")
        }
        try module.openTrace()
        print("Tracing for quick sync's... Ctrl-C to end")
        var start: Double?
        let deadline = Interrupt.deadline(afterSeconds: duration)
        while !Interrupt.isRequested(deadline: deadline) {
            guard let line = try module.traceFields(timeout: .milliseconds(200)) else { continue }
            // The trace carries every program's bpf_trace_printk; ours prints a bare number.
            guard !line.message.isEmpty, line.message.allSatisfy(\.isNumber) else { continue }
            let first = start ?? line.timestamp
            start = first
            print("At time \(String(format: "%.2f", line.timestamp - first)) s: multiple syncs detected, last \(line.message) ms ago")
        }
    }
}
