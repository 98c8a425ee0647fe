import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// Chapter 7's one object with several programs on execve: every exec is reported once per
/// hook that saw it, as `PID COMM HOOK FILENAME`. The tracepoint, raw tracepoint and BTF
/// tracepoint programs always run; `--kprobe` and `--fentry` also try the kprobe/ksyscall and
/// fentry programs, each in its own object so one the kernel refuses does not stop the others.
@main
struct ExecHooks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec-hooks",
        abstract: "Show which kinds of BPF hook (tracepoint, raw_tp, tp_btf, kprobe, fentry) see each execve.",
        discussion: """
            EXAMPLES:
              exec-hooks                      tp, raw_tp and tp_btf programs
              exec-hooks --kprobe --fentry    also try ksyscall/execve, kprobe/do_execve, fentry/do_execve
            """)

    @Flag(help: "Also load and attach ksyscall/execve and kprobe/do_execve (needs CONFIG_KPROBES).")
    var kprobe = false

    @Flag(help: "Also load and attach fentry/do_execve (needs BPF trampolines and BTF for do_execve).")
    var fentry = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    /// Section name of each program, indexed by the `hook` field of an event (enum exec_hook).
    static let hookSections = [
        "tp/syscalls/sys_enter_execve", "raw_tp/sched_process_exec", "tp_btf/sched_process_exec",
        "ksyscall/execve", "kprobe/do_execve", "fentry/do_execve",
    ]

    /// Which programs one object instance loads.
    struct Group {
        var label: String
        var select: (inout ExecHooksSkeleton.Autoload) -> Void
    }

    func run() throws {
        Interrupt.install()
        var groups = [Group(label: "tp, raw_tp and tp_btf programs") { autoload in
            autoload.tp_sys_enter_execve = true; autoload.raw_tp_exec = true; autoload.handle_exec = true
        }]
        if kprobe {
            groups.append(Group(label: "ksyscall/execve") { $0.kprobe_sys_execve = true })
            groups.append(Group(label: "kprobe/do_execve") { $0.kprobe_do_execve = true })
        }
        if fentry { groups.append(Group(label: "fentry/do_execve") { $0.fentry_execve = true }) }

        let reader = try RingBufferReader()
        defer { reader.close() }
        var attachedGroups: [ExecHooksSkeleton.Attached] = []
        defer { for group in attachedGroups { try? group.close() } }
        for group in groups {
            do {
                var opened = try ExecHooksSkeleton.open()
                opened.autoload.tp_sys_enter_execve = false
                opened.autoload.raw_tp_exec = false
                opened.autoload.handle_exec = false
                opened.autoload.kprobe_sys_execve = false
                opened.autoload.kprobe_do_execve = false
                opened.autoload.fentry_execve = false
                group.select(&opened.autoload)
                let loaded = try opened.load()
                let attached = try loaded.attach()
                attachedGroups.append(attached)
                try reader.add(loaded.events, as: ExecHooksSkeleton.event.self, handler: Self.printEvent)
            } catch let error as BPFError {
                // The library's error says which hook, why (errno by name) and what the kernel lacks.
                FileHandle.standardError.write(Data("exec-hooks: \(group.label) not available on this kernel: \(error)\n".utf8))
            }
        }
        guard !attachedGroups.isEmpty else { throw ExitCode.failure }
        print(Self.pad("PID", 7), Self.pad("COMM", 16), Self.pad("HOOK", 28), "FILENAME")
        let deadline = Interrupt.deadline(afterSeconds: duration)
        while !Interrupt.isRequested(deadline: deadline) { _ = try reader.poll(timeout: .milliseconds(100)) }
    }

    static func printEvent(_ event: ExecHooksSkeleton.event) {
        let hook = Int(event.hook) < hookSections.count ? hookSections[Int(event.hook)] : "hook \(event.hook)"
        print(pad(String(event.pid), 7), pad(event.commString, 16), pad(hook, 28), event.filenameString)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
