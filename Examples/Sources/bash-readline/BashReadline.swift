import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// BCC's bashreadline: every command line typed into any interactive bash, as
/// `TIME PID COMMAND`, read from readline()'s return value by a uretprobe.
@main
struct BashReadline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bash-readline",
        abstract: "Print the commands typed into any bash (a uretprobe on readline).",
        discussion: """
            Bash links readline in statically, so the probe goes on the shell binary itself; \
            for a bash that uses a shared libreadline, give --shell /lib/x86_64-linux-gnu/libreadline.so.8.

            EXAMPLES:
              bash-readline                     every bash on the machine
              bash-readline --shell /usr/local/bin/bash
            """)

    @Option(help: "The binary (or library) whose readline() is probed.")
    var shell = "/bin/bash"

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        let loaded = try BashReadlineSkeleton.open().load()
        let link = try loaded.programs.bash_readline.attachUretprobe(UprobeTarget(binary: shell, symbol: "readline"))
        defer { try? link.close() }
        let reader = try loaded.events { event in
            print(Self.pad(Self.clockTime(), 9), Self.pad(String(event.pid), 7), event.lineString)
        }
        defer { reader.close() }
        print(Self.pad("TIME", 9), Self.pad("PID", 7), "COMMAND")
        let deadline = Interrupt.deadline(afterSeconds: duration)
        while !Interrupt.isRequested(deadline: deadline) { _ = try reader.poll(timeout: .milliseconds(100)) }
    }

    /// Local wall-clock time as BCC prints it, `%H:%M:%S`.
    static func clockTime() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
