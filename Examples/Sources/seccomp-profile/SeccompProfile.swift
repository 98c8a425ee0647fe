import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// Chapter 9's OCI seccomp hook, as a command wrapper: runs COMMAND with its system calls
/// recorded (tracepoint raw_syscalls:sys_enter, filtered in the kernel to the command and its
/// descendants) and writes an OCI seccomp profile allowing exactly the calls it made.
@main
struct SeccompProfile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seccomp-profile",
        abstract: "Record the system calls a command makes and write an OCI seccomp profile allowing exactly those.",
        discussion: """
            The command starts stopped (a shell that sends itself SIGSTOP, then execs it), so its \
            pid is in the filter before its first system call of interest. The profile denies \
            everything else with SCMP_ACT_ERRNO, as the OCI seccomp hook's profiles do.

            EXAMPLES:
              seccomp-profile -- /bin/ls /                     profile to stdout
              seccomp-profile -o ls.json -- /bin/ls /          profile to a file
              docker run --security-opt seccomp=ls.json ...    use it
            """)

    @Option(name: .shortAndLong, help: "Write the profile here (default: standard output).")
    var output: String?

    @Argument(parsing: .postTerminator, help: "The command and its arguments (after --).")
    var command: [String] = []

    /// The command without the `--` that separates it from the options.
    var commandLine: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        if commandLine.isEmpty { throw ValidationError("give the command to profile after --, e.g. seccomp-profile -- /bin/ls /") }
    }

    func run() throws {
        Interrupt.install()
        let command = commandLine
        let names = try SyscallTable.hostNames()
        let loaded = try SeccompProfileSkeleton.open().load()

        // `sh -c 'kill -STOP $$; exec "$@"'`: the shell stops itself; once its pid is traced, it
        // continues into exec, so the command's own calls from execve on are all recorded.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "kill -STOP $$; exec \"$@\"", "seccomp-profile"] + command
        try child.run()
        let pid = child.processIdentifier
        guard Self.waitUntilStopped(pid) else {
            child.waitUntilExit()
            throw ValidationError("the command's shell exited before it could be traced (status \(child.terminationStatus))")
        }
        try loaded.traced.update(UInt32(pid), 1)
        let attached = try loaded.attach()
        defer { try? attached.close() }
        kill(pid, SIGCONT)
        child.waitUntilExit()
        try attached.close()

        var seen: [String] = []
        for (number, calls) in try loaded.syscalls.values().enumerated() where calls > 0 {
            seen.append(names[number] ?? "syscall_\(number)")
        }
        let profile = Self.profile(allowing: seen.sorted())
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: Data(profile.utf8)) else {
                throw ValidationError("cannot write \(output)")
            }
            FileHandle.standardError.write(Data("seccomp-profile: \(seen.count) syscalls of '\(command.joined(separator: " "))' (exit status \(child.terminationStatus)) written to \(output)\n".utf8))
        } else {
            print(profile, terminator: "")
        }
        if child.terminationStatus != 0 {
            // A command that failed (not found, bad arguments) made fewer calls than a real run.
            FileHandle.standardError.write(Data("seccomp-profile: warning: the command exited with status \(child.terminationStatus); the profile covers only what it did\n".utf8))
        }
    }

    /// Polls /proc/PID/stat until the state is T (stopped), or the process is gone.
    static func waitUntilStopped(_ pid: Int32) -> Bool {
        for _ in 0..<500 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            // "pid (comm) S ...": the state follows the last ')' (comm may contain parentheses).
            if let close = stat.lastIndex(of: ")") {
                let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
                if state == "T" { return true }
                if state == "Z" { return false }
            }
            usleep(10_000)
        }
        return false
    }

    /// The OCI runtime-spec `linux.seccomp` object, in the layout the OCI seccomp hook writes.
    static func profile(allowing names: [String]) -> String {
        #if arch(x86_64)
        let architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        #elseif arch(arm64)
        let architectures = ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
        #else
        let architectures: [String] = []
        #endif
        let quoted = { (list: [String]) in list.map { "\"\($0)\"" }.joined(separator: ", ") }
        return """
            {
              "defaultAction": "SCMP_ACT_ERRNO",
              "architectures": [\(quoted(architectures))],
              "syscalls": [
                {
                  "names": [
            \(names.map { "        \"\($0)\"" }.joined(separator: ",\n"))
                  ],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [],
                  "comment": "",
                  "includes": {},
                  "excludes": {}
                }
              ]
            }

            """
    }
}

/// Syscall numbers of this machine's architecture, from the kernel's UAPI header as installed
/// by linux-libc-dev (`#define __NR_read 0`); the kernel itself exports no number → name table.
enum SyscallTable {
    static func hostNames() throws -> [Int: String] {
        #if arch(x86_64)
        let candidates = ["/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"]
        #elseif arch(arm64)
        let candidates = ["/usr/include/asm-generic/unistd.h", "/usr/include/aarch64-linux-gnu/asm/unistd.h"]
        #else
        let candidates: [String] = []
        #endif
        for path in candidates {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            var names: [Int: String] = [:]
            for line in text.split(separator: "\n") {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard words.count >= 3, words[0] == "#define", words[1].hasPrefix("__NR_"), let number = Int(words[2]) else { continue }
                names[number] = String(words[1].dropFirst(5))
            }
            if !names.isEmpty { return names }
        }
        throw BPFError.notFound(what: "the syscall table of this architecture", detail: "none of \(candidates.joined(separator: ", ")) is readable; install linux-libc-dev")
    }
}
