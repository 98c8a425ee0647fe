import ExampleSupport
import Foundation
import Testing

@Suite(.kernel, .serialized) struct HelloTailTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("hello-tail", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: hello-tail"), "\(help.text)")
    }

    /// A shell that, once the example runs, execs a tiny C program creating, arming and
    /// deleting a POSIX timer: the same pid shows the exec, the three timer calls through their
    /// tail-called programs, and other syscalls through the fall-through line.
    @Test func tailCallsPerSyscall() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("exn-hello-tail-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("timer.c")
        try """
            #include <signal.h>
            #include <time.h>
            int main(void) {
                timer_t timer;
                struct sigevent event = { .sigev_notify = SIGEV_NONE };
                if (timer_create(CLOCK_MONOTONIC, &event, &timer) != 0) return 1;
                struct itimerspec spec = { .it_value = { .tv_sec = 10 } };
                if (timer_settime(timer, 0, &spec, 0) != 0) return 2;
                return timer_delete(timer) == 0 ? 0 : 3;
            }
            """.write(to: source, atomically: true, encoding: .utf8)
        let binary = directory.appendingPathComponent("exn-timer").path
        let compile = try Command.runCapturing("/usr/bin/cc", ["-o", binary, source.path])
        try #require(compile.status == 0, "\(compile.output)")

        // Waits on a fifo, so the exec happens only once the example is tracing.
        let fifo = directory.appendingPathComponent("go").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "read line < \(fifo); exec \(binary)"]
        try shell.run()
        defer { if shell.isRunning { shell.terminate() } }

        let example = try ExampleProcess("hello-tail", ["--pid", String(shell.processIdentifier)])
        try #require(example.waitFor("Ctrl-C to end", timeout: .seconds(180)))
        try "go\n".write(toFile: fifo, atomically: false, encoding: .utf8)
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0)
        example.waitFor("Deleting a timer", timeout: .seconds(120))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")

        let lines = result.text.split(separator: "\n").filter { $0.contains("bpf_trace_printk: ") }
        let messages = lines.map { $0[$0.range(of: "bpf_trace_printk: ")!.upperBound...] }
        #expect(messages.contains("Executing a program"), "\(result.text)")
        // timer_create, timer_settime (another timer operation), timer_delete, in that order.
        let timerMessages = messages.filter { $0.contains("timer") }
        #expect(timerMessages == ["Creating a timer", "Some other timer operation", "Deleting a timer"], "\(result.text)")
        #expect(messages.contains { $0.hasPrefix("Another syscall: ") }, "\(result.text)")
        #if arch(x86_64)
        // The dynamic loader's access("/etc/ld.so.preload") is syscall 21, one of the slots
        // holding `ignore_opcode`: it must print nothing.
        #expect(!messages.contains("Another syscall: 21"), "\(result.text)")
        #endif
        #expect(lines.allSatisfy { $0.contains("-\(shell.processIdentifier) ") }, "only the watched pid: \(lines)")
    }
}
