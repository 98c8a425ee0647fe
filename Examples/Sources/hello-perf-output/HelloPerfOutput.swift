import ArgumentParser
import BPF
import BPFCompiler
import ExampleSupport
import Foundation

/// BCC's hello_perf_output.py: on every clone(2) the BPF side fills `struct data_t {pid, ts,
/// comm}` and sends it through a perf buffer (BPF_PERF_OUTPUT); user space prints the time
/// since the first event, COMM, PID and "Hello, perf_output!". The original attached a kprobe
/// to the clone syscall's kernel function; here `hello` goes on the tracepoint
/// syscalls:sys_enter_clone, and `--kprobe` tries the original's way.
@main
struct HelloPerfOutput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hello-perf-output",
        abstract: "Send {pid, ts, comm} through a perf buffer on every clone(2) and print TIME(s) COMM PID \"Hello, perf_output!\".",
        discussion: """
            The BPF program (C text in this file, compiled at run time) writes its event with \
            bpf_perf_event_output into BPF_PERF_OUTPUT(events); BPFModule.openPerfBuffer \
            and perfBufferPoll deliver each record to Swift, which decodes the struct.

            EXAMPLES:
              hello-perf-output            # then run: sh -c 'true & wait'
              hello-perf-output --kprobe   # the original's kprobe on __x64_sys_clone (needs kprobes)
            """)

    @Flag(help: "Attach a kprobe to the kernel's clone entry function, as the original; fails clearly on kernels without kprobes.")
    var kprobe = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    /// `struct data_t` as the C side lays it out: u32 pid at 0, u64 ts at 8, char comm[16] at 16.
    struct Event {
        var pid: UInt32
        var timestamp: UInt64
        var comm: String

        init?(_ data: UnsafeRawBufferPointer) {
            guard data.count >= 32, let pid = data.value(at: 0, as: UInt32.self), let timestamp = data.value(at: 8, as: UInt64.self) else { return nil }
            self.pid = pid
            self.timestamp = timestamp
            comm = data.cString(at: 16, count: 16)
        }
    }

    func run() throws {
        Interrupt.install()
        let module = try BPFModule(source: """
            // define output data structure in C
            struct data_t {
                u32 pid;
                u64 ts;
                char comm[TASK_COMM_LEN];
            };
            BPF_PERF_OUTPUT(events);

            int hello(void *ctx)
            {
                struct data_t data = {};

                data.pid = bpf_get_current_pid_tgid();
                data.ts = bpf_ktime_get_ns();
                bpf_get_current_comm(&data.comm, sizeof(data.comm));

                bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &data, sizeof(data));
                return 0;
            }
            """)
        defer { module.close() }
        if kprobe {
            try module.attachKprobe(event: try BPFModule.syscallFunctionName("clone"), function: "hello")
        } else {
            try module.attachTracepoint("syscalls:sys_enter_clone", function: "hello")
        }
        var start: UInt64 = 0
        try module.openPerfBuffer("events") { _, data in
            guard let event = Event(data) else { return }
            if start == 0 { start = event.timestamp }
            let time = Double(event.timestamp &- start) / 1_000_000_000
            print(pad(String(format: "%.9f", time), 18) + " " + pad(event.comm, 16) + " " + pad(String(event.pid), 6) + " Hello, perf_output!")
        }
        // The header goes out once the buffer is open: events before that would be lost.
        print(pad("TIME(s)", 18) + " " + pad("COMM", 16) + " " + pad("PID", 6) + " MESSAGE")
        let deadline = Interrupt.deadline(afterSeconds: duration)
        while !Interrupt.isRequested(deadline: deadline) {
            try module.perfBufferPoll(timeout: .milliseconds(200))
        }
    }

    func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
