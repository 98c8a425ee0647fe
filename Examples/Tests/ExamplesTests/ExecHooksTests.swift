import Foundation
import Testing

@Suite(.kernel, .serialized) struct ExecHooksTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("exec-hooks", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: exec-hooks"), "\(help.text)")
    }

    /// An exec of a copy of /bin/true at a path of the test's own is seen by all three hooks
    /// that work here; the kprobe and fentry programs are tried and reported as unavailable.
    @Test func everyWorkingHookReportsTheExec() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("exec-hooks-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let binary = directory.appendingPathComponent("exec-hooks-true").path
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: binary)

        let example = try ExampleProcess("exec-hooks", ["--kprobe", "--fentry"])
        try #require(example.waitFor("FILENAME"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        try process.run()
        process.waitUntilExit()
        usleep(300_000)
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")

        let pid = process.processIdentifier
        let lines = result.text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("\(pid) ") && $0.hasSuffix(" \(binary)") }
        for hook in ["tp/syscalls/sys_enter_execve", "raw_tp/sched_process_exec", "tp_btf/sched_process_exec"] {
            #expect(lines.contains { $0.contains(" \(hook) ") }, "no \(hook) line for pid \(pid): \(lines)")
        }
        // After exec the task's comm is the new program's name (truncated to 15 bytes).
        #expect(lines.contains { $0.contains(" exec-hooks-true ") && $0.contains("tp_btf/sched_process_exec") }, "\(lines)")
        // The optional hooks either saw the exec or were reported unavailable, saying why (on
        // the development VM: no CONFIG_KPROBES, and do_execve is inlined so has no BTF).
        for hook in ["ksyscall/execve", "kprobe/do_execve", "fentry/do_execve"] {
            let saw = lines.contains { $0.contains(" \(hook) ") }
            let refused = result.text.contains("exec-hooks: \(hook) not available on this kernel: ")
            #expect(saw || refused, "\(hook): neither an event nor a reason\n\(result.text.prefix(2000))")
        }
        if !FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe") {
            #expect(result.text.contains("CONFIG_KPROBES"), "\(result.text.prefix(2000))")
        }
    }
}
