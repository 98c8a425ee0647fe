import ArgumentParser
import BPF
import BPFObject
import BPFTrace
import Foundation

/// Set by SIGINT; the session polls it.
nonisolated(unsafe) private var traceInterrupted: sig_atomic_t = 0

/// `swiftbpf trace`: run a bpftrace program, compiled straight to BPF instructions.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Run a bpftrace program (bpftrace 0.17's language and output).",
        discussion: """
        EXAMPLES:
          swiftbpf trace -e 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\\n", comm, str(args->filename)); }'
          swiftbpf trace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
          swiftbpf trace -l 'tracepoint:sched:*'
        ENVIRONMENT:
          BPFTRACE_STRLEN (default 64), BPFTRACE_MAP_KEYS_MAX (default 4096)
        """
    )

    @Option(name: .short, help: "Program text.") var e: String?
    @Flag(name: .short, help: "List probes (tracepoints) matching the pattern.") var l = false
    @Flag(name: .short, help: "Verbose: instruction counts per program.") var v = false
    @Flag(name: .short, help: "Debug: print the AST and the generated instructions, do not run.") var d = false
    @Flag(name: .short, help: "Quiet: no 'Attaching' line.") var q = false
    @Flag(name: .long, help: "Allow unsafe builtins such as system().") var unsafe = false
    @Option(name: .short, help: "Write output to this file.") var o: String?
    @Option(name: .short, help: "Output format: text or json.") var f: String = "text"
    @Option(name: .short, help: "Uprobes fire only in this process.") var p: Int32?
    @Option(name: .short, help: "Run this command and trace until it exits (cpid is its pid).") var c: String?
    @Argument(help: "A script file (or the pattern with -l), then positional parameters.") var arguments: [String] = []

    func run() throws {
        try TraceInvocation(e: e, l: l, v: v, d: d, q: q, unsafe: unsafe, o: o, f: f, p: p, c: c, arguments: arguments).run()
    }
}

/// The options of one `swiftbpf trace` run as plain values, filled in by `TraceCommand` or, for
/// the common flags, straight from the command line (`TraceInvocation.parse`).
struct TraceInvocation {
    var e: String?
    var l = false
    var v = false
    var d = false
    var q = false
    var unsafe = false
    var o: String?
    var f = "text"
    var p: Int32?
    var c: String?
    var arguments: [String] = []

    func run() throws {
        if l { return try list(arguments.first ?? e ?? "*") }
        var rest = arguments
        let text: String
        let fileName: String
        if let e {
            text = e
            fileName = "stdin"
        } else {
            guard !rest.isEmpty else { throw ValidationError("give a program with -e or a script file") }
            let path = rest.removeFirst()
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read script file '\(path)'")
            }
            text = contents
            fileName = path
        }
        var options = TraceSession.Options()
        guard f == "text" || f == "json" else { throw ValidationError("Invalid output format \"\(f)\"; valid formats: text, json") }
        options.json = f == "json"
        options.verifierStatistics = v
        options.processID = p
        options.compile.positionalParameters = rest
        options.compile.unsafe = unsafe
        // getenv, not ProcessInfo.environment: that copies every variable into a dictionary.
        let environment = { (name: String) in getenv(name).map { String(cString: $0) } }
        if let length = environment("BPFTRACE_STRLEN").flatMap(Int.init) {
            guard (1...200).contains(length) else { throw ValidationError("BPFTRACE_STRLEN must be between 1 and 200") }
            options.compile.stringLength = length
        }
        if let keys = environment("BPFTRACE_MAP_KEYS_MAX").flatMap(Int.init), keys > 0 { options.mapKeysMax = keys }
        // bpftrace refuses scripts that expand to more probes than this (default 512).
        let maxProbes = environment("BPFTRACE_MAX_PROBES").flatMap(Int.init) ?? 512
        if let pages = environment("BPFTRACE_PERF_RB_PAGES").flatMap(Int.init) {
            // bpftrace sizes a per-CPU perf buffer in pages; our one ring buffer must be a power
            // of two pages (kernel/bpf/ringbuf.c), so round up.
            guard pages > 0 else { throw ValidationError("BPFTRACE_PERF_RB_PAGES must be positive") }
            var ringPages = 1
            while ringPages < pages && ringPages < 1 << 18 { ringPages <<= 1 }
            options.eventBufferSize = ringPages * Int(sysconf(Int32(_SC_PAGESIZE)))
        }

        let output: FileHandle
        if let o {
            guard FileManager.default.createFile(atPath: o, contents: nil), let handle = FileHandle(forWritingAtPath: o) else {
                throw ValidationError("cannot write to '\(o)'")
            }
            output = handle
        } else {
            output = FileHandle.standardOutput
        }
        let buffered = BufferedTraceOutput(output)
        defer { buffered.flush() }
        let write: (String) -> Void = { buffered.append($0) }

        // The child starts stopped (it stops itself before exec, keeping its pid) so that
        // `cpid` is known when the programs load and no event of it is missed before attaching.
        var child: Process?
        if let c {
            options.compile.hasChildCommand = true
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "kill -STOP $$; exec " + c]
            try process.run()
            while process.isRunning, !Self.isStopped(process.processIdentifier) { usleep(1000) }
            options.childProcessID = process.processIdentifier
            child = process
        }
        defer { if let child, child.isRunning { kill(child.processIdentifier, SIGCONT); child.terminate() } }

        if v, let program = Parser.parse(text, fileName: fileName).program {
            FileHandle.standardError.write(Data("INFO: node count: \(program.nodeCount)\n".utf8))
        }
        let session: TraceSession
        do {
            session = try TraceSession(text: text, fileName: fileName, options: options, write: write)
        } catch let error as TraceError {
            FileHandle.standardError.write(Data(error.description.utf8))
            throw ExitCode(1)
        }
        let warnings = session.renderedWarnings
        if !warnings.isEmpty { FileHandle.standardError.write(Data(warnings.utf8)) }
        if d {
            if let program = Parser.parse(text, fileName: fileName).program { print(ASTPrinter.bpftraceTree(program), terminator: "") }
            for probe in session.script.probes {
                print("\n; \(probe.name): \(probe.programType.name), \(probe.instructions.count) instructions")
                print(Disassembler().text(probe.instructions), terminator: "")
            }
            return
        }
        if session.script.probes.count > maxProbes {
            FileHandle.standardError.write(Data("""
                ERROR: Can't attach to \(session.script.probes.count) probes because it exceeds the current limit of \(maxProbes) probes.
                You can increase the limit through the BPFTRACE_MAX_PROBES environment variable, but BE CAREFUL since a high number of probes attached can cause your system to crash.

                """.utf8))
            throw ExitCode(1)
        }
        if session.script.probes.isEmpty {
            // Every probe was a wildcard that matched nothing; bpftrace says so on stdout.
            if !q { write("No probes to attach\n") }
            throw ExitCode(1)
        }
        do {
            try session.attach()
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
        if !q {
            if f == "json" {
                write(JSONOutput.event("attached_probes", "{\"probes\": \(session.probeCount)}"))
            } else {
                write("Attaching \(session.probeCount) probe\(session.probeCount == 1 ? "" : "s")...\n")
            }
            buffered.flush()
        }
        if v {
            // bpftrace prints these on stderr after "Attaching"; we add the instruction counts.
            FileHandle.standardError.write(Data(session.verboseReport.utf8))
            for probe in session.script.probes {
                FileHandle.standardError.write(Data("\(probe.name): \(probe.instructions.count) instructions\n".utf8))
            }
        }
        signal(SIGINT) { _ in traceInterrupted = 1 }
        signal(SIGTERM) { _ in traceInterrupted = 1 }
        // A parent may have started us with these blocked (the mask is inherited): Ctrl-C and
        // kill must still end the trace and print the maps, as with bpftrace.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        if let child { kill(child.processIdentifier, SIGCONT) }
        // The session polls this after each batch of events: the moment to write what it printed.
        // Like bpftrace, `-p PID` traces until that process is gone.
        let traced = p
        try session.run {
            buffered.flush()
            return traceInterrupted != 0 || (child.map { !$0.isRunning } ?? false)
                || (traced.map { kill($0, 0) != 0 && errno == ESRCH } ?? false)
        }
        buffered.flush()
        session.close()
    }

    /// Whether /proc/PID/stat shows the process stopped ('T').
    static func isStopped(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[close...].dropFirst(2).first == "T"
    }

    func list(_ pattern: String) throws {
        do {
            for line in try ProbeListing.lines(matching: pattern, verbose: v, processID: p) { print(line) }
        } catch let error as TraceError {
            FileHandle.standardError.write(Data(error.description.utf8))
            throw ExitCode(1)
        } catch {
            FileHandle.standardError.write(Data("ERROR: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Trace output collected while a batch of events is formatted and written once per batch
/// (and whenever 64 KiB have gathered): one write(2) per event capped the printf rate.
final class BufferedTraceOutput {
    private let handle: FileHandle
    private var pending: [UInt8] = []

    init(_ handle: FileHandle) {
        self.handle = handle
        pending.reserveCapacity(1 << 16)
    }

    func append(_ text: String) {
        pending.append(contentsOf: text.utf8)
        if pending.count >= 1 << 16 { flush() }
    }

    func flush() {
        guard !pending.isEmpty else { return }
        handle.write(Data(pending))
        pending.removeAll(keepingCapacity: true)
    }
}
