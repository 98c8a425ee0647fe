import BPFObject

extension LoadedObject {
    /// Attaches `program` the way its section name says (libbpf's auto-attach): tracepoint,
    /// raw tracepoint, tp_btf/fentry/fexit/fmod_ret/lsm/iter (BTF target chosen at load),
    /// kprobe/kretprobe (`kprobe/func+off`), ksyscall, uprobe/uretprobe with a binary in the
    /// section (`uprobe//usr/lib/libc.so.6:malloc+0x10`), usdt with binary, provider and probe
    /// (`usdt//usr/bin/app:provider:probe`, see `attachUSDT`), uprobe.multi/uretprobe.multi with a
    /// binary and a function glob (`uprobe.multi//usr/lib/libc.so.6:str*`, one uprobe-multi link
    /// for every matching function). Sections that need more (an
    /// interface, a cgroup, a PID, a perf event) throw `BPFError.unsupported` saying what.
    public func attach(program name: String) throws -> any Link {
        let program = try self.program(named: name)
        guard let objectProgram = spec.program(named: name) else { throw BPFError.notFound(what: "program '\(name)'", detail: "not in the object") }
        let target = objectProgram.attachTarget
        let section = objectProgram.sectionName
        func needTarget() throws {
            if target.isEmpty { throw BPFError.invalidArgument("section '\(section)' of program '\(name)' names no attach target, so it cannot be attached automatically") }
        }
        switch objectProgram.section.autoAttach {
        case .tracepoint:
            try needTarget()
            return try program.attachTracepoint(target)
        case .rawTracepoint:
            try needTarget()
            return try program.attachRawTracepoint(target)
        case .tracing, .lsm, .iterator:
            return try program.attachTracing(target: target)
        case .kprobe, .kretprobe:
            try needTarget()
            let (function, offset) = Self.splitOffset(target)
            return try program.attachKprobe(function: function, offset: offset, isReturn: objectProgram.section.autoAttach == .kretprobe)
        case .ksyscall, .kretsyscall:
            try needTarget()
            // Syscall entry points carry the architecture prefix when the kernel has wrappers.
            #if arch(x86_64)
            let function = "__x64_sys_" + target
            #elseif arch(arm64)
            let function = "__arm64_sys_" + target
            #else
            let function = "sys_" + target
            #endif
            return try program.attachKprobe(function: function, isReturn: objectProgram.section.autoAttach == .kretsyscall)
        case .uprobe, .uretprobe:
            // uprobe/<binary>:<function>[+<offset>]; the binary may itself start with '/'.
            guard let colon = target.lastIndex(of: ":"), colon != target.startIndex else {
                throw BPFError.unsupported(feature: "auto-attach of '\(section)'", detail: "a uprobe section needs 'uprobe/<binary>:<function>[+offset]' to attach automatically; attach it with attachUprobe")
            }
            let binary = String(target[..<colon])
            let (function, offset) = Self.splitOffset(String(target[target.index(after: colon)...]))
            let uprobeTarget = UprobeTarget(binary: binary, symbol: function, offset: offset)
            return try program.attachUprobe(uprobeTarget, isReturn: objectProgram.section.autoAttach == .uretprobe)
        case .usdt:
            // usdt/<binary>:<provider>:<name>; the binary may itself contain ':'.
            let parts = target.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 3, !parts[0].isEmpty, !parts[parts.count - 2].isEmpty, !parts[parts.count - 1].isEmpty else {
                throw BPFError.unsupported(feature: "auto-attach of '\(section)'", detail: "a usdt section needs 'usdt/<binary>:<provider>:<name>' to attach automatically; attach it with attachUSDT")
            }
            return try attachUSDT(program: name, binary: parts.dropLast(2).joined(separator: ":"),
                                  provider: String(parts[parts.count - 2]), name: String(parts[parts.count - 1]))
        case .kprobeMulti:
            throw BPFError.unsupported(feature: "auto-attach of '\(section)'", detail: "kprobe.multi sections are not auto-attached yet")
        case .none where objectProgram.section.expectedAttachType == .traceUprobeMulti:
            // uprobe.multi/<binary>:<function glob>, as libbpf: every defined function of the
            // binary whose name matches, through one link.
            guard let colon = target.lastIndex(of: ":"), colon != target.startIndex, target.index(after: colon) != target.endIndex else {
                throw BPFError.unsupported(feature: "auto-attach of '\(section)'", detail: "a uprobe.multi section needs 'uprobe.multi/<binary>:<function pattern>' to attach automatically; attach it with attachUprobeMulti")
            }
            let binary = String(target[..<colon])
            let pattern = String(target[target.index(after: colon)...])
            let offsets = try UprobeTarget.functionOffsets(matching: pattern, in: binary)
            return try program.attachUprobeMulti(binary: binary, locations: offsets.map { .fileOffset($0) },
                                                 isReturn: section.hasPrefix("uretprobe.multi"))
        case .none where program.type == .structOps:
            let table = spec.structOps(using: name)?.0.name ?? "<table>"
            throw BPFError.unsupported(feature: "attaching struct_ops program '\(name)' on its own", detail: "struct_ops programs run through their table: call attachStructOps(\"\(table)\")")
        case .none:
            throw BPFError.unsupported(feature: "auto-attach of '\(section)'", detail: "\(program.type.name) programs need a target the section name does not give (an interface, cgroup, socket, map or perf event); attach them explicitly")
        }
    }

    /// Attaches every loaded program whose section allows it; the others are listed in
    /// `skipped` with the reason.
    public func attachAll() throws -> (links: [String: any Link], skipped: [String: String]) {
        var links: [String: any Link] = [:]
        var skipped: [String: String] = [:]
        for program in spec.programs where programs[program.name] != nil {
            if program.section.autoAttach == .none && program.section.expectedAttachType != .traceUprobeMulti {
                skipped[program.name] = "section '\(program.sectionName)' is not auto-attachable"
                continue
            }
            // Like libbpf, bare `uprobe`/`usdt` sections are for explicit attaches only.
            if [.uprobe, .uretprobe, .usdt].contains(program.section.autoAttach) || program.section.expectedAttachType == .traceUprobeMulti,
               program.attachTarget.isEmpty {
                skipped[program.name] = "section '\(program.sectionName)' names no target; attach it explicitly"
                continue
            }
            links[program.name] = try attach(program: program.name)
        }
        return (links, skipped)
    }

    /// `name+0x10` → ("name", 16).
    static func splitOffset(_ text: String) -> (String, UInt64) {
        guard let plus = text.lastIndex(of: "+") else { return (text, 0) }
        let number = text[text.index(after: plus)...]
        let value = number.hasPrefix("0x") ? UInt64(number.dropFirst(2), radix: 16) : UInt64(number)
        guard let value else { return (text, 0) }
        return (String(text[..<plus]), value)
    }
}
