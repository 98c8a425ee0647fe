import BPF
import BPFObject
import Foundation

/// `swiftbpf trace -l [PATTERN]` and `-lv`: the probes a script could name, one per line,
/// sorted as bpftrace sorts them (by the whole name), with `-v` adding tracepoint fields and
/// kfunc arguments indented by four spaces.
///
/// A pattern that starts with a probe type (`tracepoint:`, `t:`, `uprobe:`, `kfunc:`,
/// `software:`...) lists that type; any other pattern is matched against the names of
/// tracepoints and software and hardware events (`sched_switch`, `*sched*`, `sched:*`).
/// Wildcards follow shell glob rules.
public enum ProbeListing {
    public static func lines(matching pattern: String, verbose: Bool = false, processID: Int32? = nil) throws -> [String] {
        let pattern = pattern.isEmpty ? "*" : pattern
        let fields = pattern.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if fields.count == 2, let provider = BPFTraceLanguage.probeType(named: fields[0]) {
            return try listing(provider: provider, rest: fields[1], verbose: verbose, processID: processID)
        }
        // No probe type: search by name, `sched_switch` meaning any probe whose last field it is.
        let glob = pattern.hasPrefix("*") ? pattern : "*:" + pattern
        let events = perfEvents(provider: "software", glob: glob) + perfEvents(provider: "hardware", glob: glob)
        return sortedEntries(try tracepoints(verbose: verbose) { matches(glob, $0) }, events)
    }

    static func listing(provider: String, rest: String, verbose: Bool, processID: Int32?) throws -> [String] {
        let glob = provider + ":" + rest
        switch provider {
        case "tracepoint":
            // `t:sched_switch` (no category) means any category.
            let full = rest.contains(":") ? glob : "tracepoint:*:" + rest
            return sortedEntries(try tracepoints(verbose: verbose) { matches(full, $0) })
        case "rawtracepoint":
            // Every tracepoint is also a raw tracepoint, named without its category.
            let names = Set(try Tracefs.tracepoints(matching: "*:*").filter { $0.category != "ftrace" }.map(\.name))
            return names.map { "rawtracepoint:" + $0 }.filter { matches(glob, $0) }.sorted()
        case "software", "hardware":
            return perfEvents(provider: provider, glob: glob)
        case "uprobe", "uretprobe":
            return try uprobes(provider: provider, rest: rest, processID: processID)
        case "usdt":
            return try USDTProbes.list(glob, processID: processID)
        case "kprobe", "kretprobe":
            // available_filter_functions lists what kprobes can attach to ("name [module]");
            // kernels without CONFIG_KPROBES or tracefs function tracing have none.
            guard let root = try? Tracefs.root(), let handle = FileHandle(forReadingAtPath: root + "/available_filter_functions"),
                  let data = try? handle.readToEnd() else { return [] }
            let text = String(decoding: data, as: UTF8.self)
            let names = Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
            return names.map { provider + ":" + $0 }.filter { matches(glob, $0) }.sorted()
        case "kfunc", "kretfunc":
            return try kernelFunctions(provider: provider, glob: glob, verbose: verbose)
        default:
            // BEGIN, END, interval, profile, watchpoint: nothing to enumerate.
            return []
        }
    }

    /// Tracepoints whose full name passes `include`, with `-v` their fields (common fields left
    /// out, as bpftrace does). The `ftrace` category holds the tracer's own events, which
    /// cannot be attached to.
    static func tracepoints(verbose: Bool, include: (String) -> Bool) throws -> [[String]] {
        var entries: [[String]] = []
        for (category, name) in try Tracefs.tracepoints(matching: "*:*") where category != "ftrace" {
            let full = "tracepoint:\(category):\(name)"
            guard include(full) else { continue }
            var entry = [full]
            if verbose, let format = try? Tracefs.format(category: category, name: name) {
                entry += format.fields.map { "    " + $0.declaration }
            }
            entries.append(entry)
        }
        return entries
    }

    static func perfEvents(provider: String, glob: String) -> [String] {
        let events = provider == "hardware" ? PerfEventProbe.hardware : PerfEventProbe.software
        return events.filter { event in
            let names = [event.name] + (event.alias.map { [$0] } ?? [])
            return names.contains { matches(glob, "\(provider):\($0)") || matches(glob, "\(provider):\($0):") }
        }.map { "\(provider):\($0.name):" }
    }

    static func uprobes(provider: String, rest: String, processID: Int32?) throws -> [String] {
        // uprobe:BINARY[:FUNCTION_PATTERN]
        let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let binary = parts.first, !binary.isEmpty else { return [] }
        let functionPattern = parts.count > 1 && !parts[1].isEmpty ? parts[1] : "*"
        let path = try UprobeFunctions.path(of: binary, processID: processID)
        guard let names = UprobeFunctions.names(in: path, processID: processID) else {
            throw BPFError.invalidArgument("\(path) is not an ELF file with a symbol table")
        }
        return names.filter { matches(functionPattern, $0) }.map { "\(provider):\(path):\($0)" }
    }

    /// BTF functions of vmlinux; `-v` adds each parameter (and `retval` for kretfunc).
    static func kernelFunctions(provider: String, glob: String, verbose: Bool) throws -> [String] {
        let btf = try KernelBTF.vmlinux()
        var entries: [(String, [String])] = []
        var seen = Set<String>()
        for id in btf.typeIDs(of: .function) {
            guard let function = try? btf.type(id), seen.insert(function.name).inserted else { continue }
            let name = "\(provider):\(function.name)"
            guard matches(glob, name) else { continue }
            var details: [String] = []
            if verbose, let prototype = try? btf.type(function.sizeOrType) {
                for parameter in prototype.parameters where !parameter.name.isEmpty {
                    details.append("    " + ((try? btf.describe(id: parameter.type)) ?? "?") + " " + parameter.name)
                }
                if provider == "kretfunc" {
                    details.append("    " + (prototype.sizeOrType == 0 ? "void" : ((try? btf.describe(id: prototype.sizeOrType)) ?? "?")) + " retval")
                }
            }
            entries.append((name, details))
        }
        return entries.sorted { $0.0 < $1.0 }.flatMap { [$0.0] + $0.1 }
    }

    /// Entries (a name line and its detail lines) sorted by name, flattened.
    static func sortedEntries(_ entries: [[String]]) -> [String] {
        entries.sorted { $0[0] < $1[0] }.flatMap { $0 }
    }

    static func sortedEntries(_ entries: [[String]], _ more: [String]) -> [String] {
        sortedEntries(entries + more.map { [$0] })
    }

    static func matches(_ glob: String, _ name: String) -> Bool {
        if !glob.contains(where: { "*?[".contains($0) }) { return glob == name }
        return fnmatch(glob, name, 0) == 0
    }
}
