import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// Chapter 3's hello-func: `hello` on the raw tracepoint sys_enter calls the subprogram
/// `get_opcode` and prints "Syscall: N" through bpf_printk to trace_pipe.
@main
struct HelloFunc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hello-func",
        abstract: "A BPF-to-BPF call: print \"Syscall: N\" for every syscall, the number read by a subprogram.")

    @Option(help: "Only report this process id (default: every process).")
    var pid: UInt32 = 0

    @Flag(help: "Print the kernel's translated instructions (the call to get_opcode and its body), then exit.")
    var dump = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        var opened = try HelloFuncSkeleton.open()
        opened.rodata.target_tgid = pid
        let loaded = try opened.load()
        if dump {
            // bpftool prog dump xlated name hello
            for line in try TranslatedProgram(fd: loaded.programs.hello.fd).lines() { print(line) }
            return
        }
        let attached = try loaded.attach()
        defer { try? attached.close() }
        try TracePipePrinter.run(until: Interrupt.deadline(afterSeconds: duration), ready: {
            print("Tracing syscalls (raw_tp/sys_enter)\(pid == 0 ? "" : " of pid \(pid)")... Ctrl-C to end.")
        }) { $0.contains("Syscall: ") }
    }
}
