import ArgumentParser
import BPF
import BPFCompiler
import ExampleSupport
import Foundation

/// BCC's helloworld.py: a BPF program calling bpf_trace_printk("Hello, World!") on a kernel
/// event, compiled from C text at run time, with the kernel's trace lines printed as they come
/// (`trace_print()`). The original hooked `kprobe__finish_task_switch`; this kernel has no
/// kprobes, so the function is named for a tracepoint instead: the exec of a new program
/// (default) or, nearest to the original, every context switch.
@main
struct HelloWorld: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hello-world",
        abstract: "Print \"Hello, World!\" from BPF (bpf_trace_printk) on every exec or context switch, read from the trace pipe.",
        discussion: """
            BCC's workflow: the C program is text inside this Swift file, compiled when the \
            example starts and attached by its name (tracepoint__<category>__<event>). Lines are \
            the kernel's trace format: COMM-PID [CPU] FLAGS TIMESTAMP: bpf_trace_printk: Hello, World!

            EXAMPLES:
              hello-world                  # a line per exec on the system (try: ls)
              hello-world --hook switch    # a line per context switch (many per second)
              hello-world --kprobe         # the original's kprobe on finish_task_switch
            """)

    enum Hook: String, ExpressibleByArgument, CaseIterable {
        case exec, `switch`
    }

    @Option(help: "The event: exec (tracepoint sched:sched_process_exec) or switch (sched:sched_switch, nearest to the original's finish_task_switch).")
    var hook: Hook = .exec

    @Flag(help: "Attach as the original did, with kprobe__finish_task_switch (needs a kernel with kprobes).")
    var kprobe = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        let function = kprobe ? "kprobe__finish_task_switch"
            : hook == .exec ? "tracepoint__sched__sched_process_exec" : "tracepoint__sched__sched_switch"
        let module = try BPFModule(source: """
            int \(function)(void *ctx)
            {
                bpf_trace_printk("Hello, World!\\n");
                return 0;
            }
            """)
        defer { module.close() }
        try module.autoAttach()   // kprobes on a kernel without them: a clear BPFError.unsupported
        try module.openTrace()
        print("Tracing \(kprobe ? "finish_task_switch (kprobe)" : hook == .exec ? "sched:sched_process_exec" : "sched:sched_switch")... Ctrl-C to end.")
        let deadline = Interrupt.deadline(afterSeconds: duration)
        while !Interrupt.isRequested(deadline: deadline) {
            guard let line = try module.traceReadline(timeout: .milliseconds(200)) else { continue }
            print(line)
        }
    }
}
