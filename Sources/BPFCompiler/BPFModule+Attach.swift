import BPF
import BPFObject
import Foundation

extension BPFModule {
    /// Attaches every program whose name or section says where: `tracepoint__<category>__<event>`,
    /// `raw_tracepoint__<event>`, `kprobe__<function>`, `kretprobe__<function>`, and `SEC()`
    /// programs by their section (libbpf's auto-attach). Returns the attached program names.
    /// Throws the first failure (e.g. `BPFError.unsupported(feature: "kprobes", ...)` on a
    /// kernel without kprobes); links made before it stay attached until `close()`.
    @discardableResult
    public func autoAttach() throws -> [String] {
        var attached: [String] = []
        for program in object.spec.programs where object.programs[program.name] != nil {
            guard program.section.autoAttach != .none, !program.attachTarget.isEmpty || program.section.autoAttach == .tracing else { continue }
            _ = try keep(BoxedLink(try object.attach(program: program.name)))
            attached.append(program.name)
        }
        return attached
    }

    // MARK: Tracepoints

    /// Attaches `function` (loaded as a tracepoint program) to `tracepoint`, written
    /// `category:event` (BCC's `attach_tracepoint(tp=..., fn_name=...)`).
    @discardableResult
    public func attachTracepoint(_ tracepoint: String, function: String) throws -> PerfEventLink {
        let program = try loadFunction(function, section: "tracepoint")
        return try keep(program.attachTracepoint(tracepoint))
    }

    /// Attaches `function` to every tracepoint whose `category:event` matches `regex` at its
    /// start (BCC's `tp_re`, Python `re.match` semantics), from tracefs `available_events`.
    /// Returns the tracepoints attached; throws `notFound` if none matched.
    @discardableResult
    public func attachTracepoint(regex pattern: String, function: String) throws -> [String] {
        let matches = try Self.tracepoints(matching: pattern)
        guard !matches.isEmpty else {
            throw BPFError.notFound(what: "tracepoint matching /\(pattern)/", detail: "no line of \(try Tracefs.root())/available_events matches it at its start (the lines read category:event)")
        }
        let program = try loadFunction(function, section: "tracepoint")
        for tracepoint in matches { _ = try keep(program.attachTracepoint(tracepoint)) }
        return matches
    }

    /// The `category:event` names in tracefs `available_events` that `pattern` matches at
    /// their start.
    public static func tracepoints(matching pattern: String) throws -> [String] {
        let expression = try regularExpression(pattern)
        let events = try readTracefsFile("available_events")
        return events.split(separator: "\n").map(String.init).filter { line in
            expression.firstMatch(in: line, options: .anchored, range: NSRange(line.startIndex..., in: line)) != nil
        }
    }

    static func regularExpression(_ pattern: String) throws -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: pattern) } catch {
            throw BPFError.invalidArgument("'\(pattern)' is not a valid regular expression: \(error.localizedDescription)")
        }
    }

    static func readTracefsFile(_ name: String) throws -> String {
        let path = try Tracefs.root() + "/" + name
        do { return try KernelTextFile.read(path) } catch {
            throw BPFError.notFound(what: path, detail: "it cannot be read (\(error)); reading tracefs needs root")
        }
    }

    /// Attaches `function` (loaded as a raw tracepoint program) to the raw tracepoint `event`
    /// (`sys_enter`, `sched_switch`).
    @discardableResult
    public func attachRawTracepoint(_ event: String, function: String) throws -> KernelLink {
        let program = try loadFunction(function, section: "raw_tracepoint")
        return try keep(program.attachRawTracepoint(event))
    }

    // MARK: Probes

    /// Attaches `function` (loaded as a kprobe program) to kernel function `event` (BCC's
    /// `attach_kprobe(event=..., fn_name=...)`). Kernels without CONFIG_KPROBES throw
    /// `BPFError.unsupported(feature: "kprobes", ...)`.
    @discardableResult
    public func attachKprobe(event: String, function: String, offset: UInt64 = 0) throws -> PerfEventLink {
        let program = try loadFunction(function, section: "kprobe")
        return try keep(program.attachKprobe(function: event, offset: offset))
    }

    /// The kretprobe form of `attachKprobe`.
    @discardableResult
    public func attachKretprobe(event: String, function: String) throws -> PerfEventLink {
        let program = try loadFunction(function, section: "kretprobe")
        return try keep(program.attachKretprobe(function: event))
    }

    /// Attaches `function` to every kernel function in tracefs `available_filter_functions`
    /// that `regex` matches at its start (BCC's `event_re`). Needs kprobes.
    @discardableResult
    public func attachKprobe(regex pattern: String, function: String, isReturn: Bool = false) throws -> [String] {
        let expression = try Self.regularExpression(pattern)
        let text = try Self.readTracefsFile("available_filter_functions")
        var names: [String] = []
        var seen: Set<String> = []
        for line in text.split(separator: "\n") {
            // "name [module]" lines.
            let name = String(line.prefix { $0 != " " && $0 != "\t" })
            guard !name.isEmpty, seen.insert(name).inserted,
                  expression.firstMatch(in: name, options: .anchored, range: NSRange(name.startIndex..., in: name)) != nil else { continue }
            names.append(name)
        }
        guard !names.isEmpty else { throw BPFError.notFound(what: "kernel function matching /\(pattern)/", detail: "nothing in available_filter_functions matches") }
        let program = try loadFunction(function, section: isReturn ? "kretprobe" : "kprobe")
        for name in names { _ = try keep(program.attachKprobe(function: name, isReturn: isReturn)) }
        return names
    }

    /// Attaches `function` (loaded as a uprobe program) to `symbol` in `binary` — a path, a
    /// library name (`c`, `libc`, `libssl.so.3`) or a program on PATH — in every process, or
    /// only in `pid` (BCC's `attach_uprobe(name=..., sym=..., fn_name=..., pid=...)`).
    @discardableResult
    public func attachUprobe(binary: String, symbol: String, function: String, offset: UInt64 = 0, pid: Int32? = nil) throws -> PerfEventLink {
        let program = try loadFunction(function, section: "uprobe")
        return try keep(program.attachUprobe(UprobeTarget(binary: binary, symbol: symbol, offset: offset, processID: pid)))
    }

    /// The return-probe form of `attachUprobe`.
    @discardableResult
    public func attachUretprobe(binary: String, symbol: String, function: String, pid: Int32? = nil) throws -> PerfEventLink {
        let program = try loadFunction(function, section: "uretprobe")
        return try keep(program.attachUprobe(UprobeTarget(binary: binary, symbol: symbol, processID: pid), isReturn: true))
    }

    // MARK: Syscall names

    /// The kernel's name for system call `name`'s entry function, with the architecture's
    /// wrapper prefix when the kernel has one (`clone` → `__x64_sys_clone` on x86-64 since
    /// 4.17), checked against /proc/kallsyms, else the kernel's BTF (BCC's
    /// `get_syscall_fnname`). Throws `notFound` when neither knows the call.
    public static func syscallFunctionName(_ name: String) throws -> String {
        let bare = name.hasPrefix("sys_") ? String(name.dropFirst(4)) : name
        let candidates = syscallPrefixes.map { $0 + bare }
        let known = KernelSymbolNames.shared.names(among: Set(candidates))
        if let found = candidates.first(where: known.contains) { return found }
        throw BPFError.notFound(what: "system call '\(bare)'", detail: "none of \(candidates.joined(separator: ", ")) is in /proc/kallsyms or the kernel's BTF")
    }

    /// Entry-function prefixes in the order they are tried: this architecture's wrapper, then
    /// the plain name of kernels without wrappers.
    static var syscallPrefixes: [String] {
        #if arch(x86_64)
        ["__x64_sys_", "__ia32_sys_", "sys_"]
        #elseif arch(arm64)
        ["__arm64_sys_", "sys_"]
        #elseif arch(s390x)
        ["__s390x_sys_", "sys_"]
        #else
        ["__riscv_sys_", "sys_"]
        #endif
    }
}

/// Which of some names the kernel has as functions: /proc/kallsyms (listed even when addresses
/// are hidden), else the vmlinux BTF.
final class KernelSymbolNames: @unchecked Sendable {
    static let shared = KernelSymbolNames()
    private let lock = NSLock()

    func names(among wanted: Set<String>) -> Set<String> {
        lock.lock()
        defer { lock.unlock() }
        var found: Set<String> = []
        if let text = try? KernelTextFile.read("/proc/kallsyms"), !text.isEmpty {
            // "ffffffff81000000 T __x64_sys_clone" (module symbols add "\t[module]").
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ", maxSplits: 2)
                guard fields.count == 3 else { continue }
                let name = fields[2].prefix { $0 != "\t" }
                if wanted.contains(String(name)) { found.insert(String(name)) }
            }
            return found
        }
        if let btf = try? KernelBTF.vmlinux() {
            for name in wanted where !btf.typeIDs(named: name, kind: .function).isEmpty { found.insert(name) }
        }
        return found
    }
}

/// Holds an existential link so `keep` can store it.
final class BoxedLink: Link {
    let inner: any Link
    init(_ inner: any Link) { self.inner = inner }
    func close() throws { try inner.close() }
    var description: String { inner.description }
}
