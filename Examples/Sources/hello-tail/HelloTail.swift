import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// Chapter 2's hello-tail: `hello` on the raw tracepoint sys_enter tail-calls a program chosen
/// by the syscall number from the prog array `syscall`: execve prints "Executing a program",
/// the timer calls print "Creating a timer" / "Deleting a timer" / "Some other timer
/// operation", a few noisy calls are ignored, and any other prints "Another syscall: N".
@main
struct HelloTail: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hello-tail",
        abstract: "Tail calls: a sys_enter program jumps to a per-syscall program from a prog array.",
        discussion: """
            The slots use this machine's syscall numbers (the original's are x86-64's: execve 59,
            timer_create..timer_delete 222-226). The example's own syscalls are not reported.

            EXAMPLES:
              hello-tail                        # every process
              hello-tail --pid 1234 --duration 5
            """)

    @Option(help: "Only report this process id (default: every process but this one).")
    var pid: UInt32 = 0

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        var opened = try HelloTailSkeleton.open()
        opened.rodata.target_tgid = pid
        opened.rodata.self_tgid = UInt32(getpid())
        opened.rodata.timer_create_nr = UInt32(SyscallNumbers.timerCreate)
        opened.rodata.timer_delete_nr = UInt32(SyscallNumbers.timerDelete)
        let loaded = try opened.load()

        // prog_array[n] = fd, as the Python original does slot by slot.
        let slots = try ProgramArrayMap(loaded.syscall)
        try slots.set(SyscallNumbers.execve, to: try loaded.programs.hello_exec)
        for number in SyscallNumbers.timerCalls { try slots.set(number, to: try loaded.programs.hello_timer) }
        for number in SyscallNumbers.ignored { try slots.set(number, to: try loaded.programs.ignore_opcode) }

        // Only `hello` is attached; the others run only as tail-call targets (their bare
        // `raw_tp` sections name no tracepoint).
        let link = try loaded.programs.hello.attachRawTracepoint("sys_enter")
        defer { try? link.close() }
        let messages = ["Executing a program", "Creating a timer", "Deleting a timer", "Some other timer operation", "Another syscall: "]
        let ready = { print("Tracing syscalls with tail calls (raw_tp/sys_enter)\(pid == 0 ? "" : " of pid \(pid)")... Ctrl-C to end.") }
        try TracePipePrinter.run(until: Interrupt.deadline(afterSeconds: duration), ready: ready) { line in
            messages.contains { line.contains($0) }
        }
    }
}

/// The syscall numbers of the host architecture the original hard-codes for x86-64
/// (arch/x86/entry/syscalls/syscall_64.tbl; arm64 uses include/uapi/asm-generic/unistd.h).
enum SyscallNumbers {
    #if arch(x86_64)
    static let execve = 59
    static let timerCreate = 222
    static let timerDelete = 226
    /// timer_create, timer_settime, timer_gettime, timer_getoverrun, timer_delete.
    static let timerCalls = 222...226
    /// The original's ignored calls: access, pipe, mremap, shmget, clone, fork, uname, semget,
    /// semctl, fcntl, flock, getcwd, getrusage, ptrace, getgroups, sigaltstack, uselib,
    /// personality, sysfs, iopl, epoll_ctl, utimensat, epoll_create1.
    static let ignored = [21, 22, 25, 29, 56, 57, 63, 64, 66, 72, 73, 79, 98, 101, 115, 131, 134, 135, 139, 172, 233, 280, 291]
    #elseif arch(arm64)
    static let execve = 221
    static let timerCreate = 107
    static let timerDelete = 111
    /// timer_create, timer_gettime, timer_getoverrun, timer_settime, timer_delete.
    static let timerCalls = 107...111
    /// The same calls as on x86-64 where arm64 has them: mremap, shmget, clone, uname, semget,
    /// semctl, fcntl, flock, getcwd, getrusage, ptrace, getgroups, sigaltstack, personality,
    /// epoll_ctl, utimensat, epoll_create1.
    static let ignored = [216, 194, 220, 160, 190, 191, 25, 32, 17, 165, 117, 158, 132, 92, 21, 88, 20]
    #else
    #error("hello-tail: add this architecture's syscall numbers")
    #endif
}
