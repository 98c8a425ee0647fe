import Foundation
import Testing

@Suite(.kernel, .serialized) struct HelloFuncTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("hello-func", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: hello-func"), "\(help.text)")
    }

    /// The example reports the syscalls of the process it is told to watch: a shell that waits
    /// for two children (wait4: x86-64 number 61, arm64 260). The watched process is not this
    /// test, whose own reads of the example's output would be syscalls feeding it more output.
    @Test func printsTheSyscallNumbersOfTheWatchedProcess() throws {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "sleep 2; /bin/true; sleep 1; /bin/true"]
        try shell.run()
        defer { shell.terminate() }
        let example = try ExampleProcess("hello-func", ["--pid", String(shell.processIdentifier)])
        try #require(example.waitFor("Ctrl-C to end"))
        shell.waitUntilExit()
        usleep(300_000)
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        #if arch(x86_64)
        let wait4 = 61
        #else
        let wait4 = 260
        #endif
        // trace_pipe lines: `sh-1234 [001] ..... 123.456: bpf_trace_printk: Syscall: 61`
        let lines = result.text.split(separator: "\n").filter { $0.contains("bpf_trace_printk: Syscall: ") }
        #expect(lines.contains { $0.contains("Syscall: \(wait4)") }, "\(result.text)")
        #expect(lines.allSatisfy { $0.contains("-\(shell.processIdentifier) ") }, "\(lines)")
    }

    /// `--dump` shows the subprogram call and the callee's body, as `bpftool prog dump xlated`.
    @Test func dumpShowsTheSubprogramCall() throws {
        let dump = try ExampleProcess.run("hello-func", ["--dump"])
        #expect(dump.status == 0, "\(dump.text)")
        #expect(dump.text.contains("call pc+"), "\(dump.text)")
        #expect(dump.text.contains("_get_opcode"), "\(dump.text)")
        #expect(dump.text.contains("int get_opcode(struct bpf_raw_tracepoint_args * ctx):"), "\(dump.text)")
        #expect(dump.text.contains("r0 = *(u64 *)(r1 +8)"), "\(dump.text)")
    }
}
