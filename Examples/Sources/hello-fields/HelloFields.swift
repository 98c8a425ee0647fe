import ArgumentParser
import BPF
import BPFCompiler
import ExampleSupport
import Foundation

/// BCC's hello_fields.py: "Hello, World2!" from bpf_trace_printk on every clone(2), printed as
/// columns from the parsed trace line (`trace_fields()`): TIME(s) COMM PID MESSAGE. The
/// original attached a kprobe to the syscall's kernel function (`get_syscall_fnname("clone")`);
/// here the function is attached to the tracepoint syscalls:sys_enter_clone, and `--kprobe`
/// tries the original's way.
@main
struct HelloFields: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hello-fields",
        abstract: "Print \"Hello, World2!\" on every clone(2), as TIME(s) COMM PID MESSAGE columns parsed from the trace pipe.",
        discussion: """
            The BPF function `hello` (C text in this file, compiled at run time) is attached \
            explicitly, as BCC's attach_tracepoint/attach_kprobe do. fork() is clone(2); \
            posix_spawn and thread creation use clone3(2), which this example (like the \
            original) does not trace.

            EXAMPLES:
              hello-fields            # then run: sh -c 'true & wait'
              hello-fields --kprobe   # the original's kprobe on __x64_sys_clone (needs kprobes)
            """)

    @Flag(help: "Attach a kprobe to the kernel's clone entry function (BPFModule.syscallFunctionName(\"clone\")), as the original; fails clearly on kernels without kprobes.")
    var kprobe = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        let module = try BPFModule(source: """
            int hello(void *ctx)
            {
                bpf_trace_printk("Hello, World2!\\n");
                return 0;
            }
            """)
        defer { module.close() }
        if kprobe {
            let event = try BPFModule.syscallFunctionName("clone")
            try module.attachKprobe(event: event, function: "hello")
        } else {
            try module.attachTracepoint("syscalls:sys_enter_clone", function: "hello")
        }
        try module.openTrace()
        print(Columns.row("TIME(s)", "COMM", "PID", "MESSAGE"))
        let deadline = Interrupt.deadline(afterSeconds: duration)
        while !Interrupt.isRequested(deadline: deadline) {
            guard let line = try module.traceFields(timeout: .milliseconds(200)) else { continue }
            print(Columns.row(String(format: "%.9f", line.timestamp), line.task, String(line.pid), line.message))
        }
    }
}

/// The original's `"%-18s %-16s %-6s %s"` columns.
enum Columns {
    static func row(_ time: String, _ comm: String, _ pid: String, _ message: String) -> String {
        pad(time, 18) + " " + pad(comm, 16) + " " + pad(pid, 6) + " " + message
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
