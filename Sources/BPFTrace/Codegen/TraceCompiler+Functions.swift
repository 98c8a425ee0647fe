import BPFObject
import Foundation

/// Type checks of `print` and of the string, map and clock functions: bpftrace 0.17's
/// `strcontains`, `strncmp`, `bswap`, `kptr`/`uptr`, `strerror`, `debugf`, `unwatch`, the
/// refused `override`/`path`/`skboutput`, and later releases' `has_key(@map, key)` and
/// `nsecs(monotonic|boot|tai)`.
extension TraceCompiler {
    /// Functions typed here rather than in `inferType`'s generic call case.
    static let checkedFunctions: Set<String> = ["print", "strcontains", "strncmp", "has_key", "nsecs", "bswap", "kptr", "uptr", "strerror", "override",
                                                "path", "skboutput", "unwatch", "debugf", "cgroup_path", "str"]

    /// bpf_trace_vprintk takes at most 12 u64 arguments (MAX_BPRINTF_VARARGS, kernel/bpf/helpers.c).
    static let debugArgumentLimit = 12

    /// `nsecs(mode)`'s clocks and the helpers that read them (include/uapi/linux/bpf.h).
    static let timestampModes: [String: HelperFunction] = ["monotonic": .ktimeGetNs, "boot": .ktimeGetBootNs, "tai": .ktimeGetTaiNs]

    mutating func inferCheckedCall(_ name: String, _ arguments: [Expression], _ expression: Expression, _ scope: inout Scope) -> TraceValueType? {
        switch name {
        case "print": return inferPrint(arguments, expression, &scope)
        case "strcontains", "strncmp":
            guard arguments.count == (name == "strncmp" ? 3 : 2) else {
                diagnostics.error("\(name)() requires \(name == "strncmp" ? 3 : 2) arguments (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            for argument in arguments.prefix(2) {
                guard let type = inferType(argument, &scope) else { return nil }
                guard type.isString else {
                    diagnostics.error("\(name)() only supports string arguments (\(type.argumentKindName) provided)", at: expression.range)
                    return nil
                }
            }
            if name == "strncmp" {
                guard case .integer(let length) = arguments[2].kind, length >= 0 else {
                    let provided = inferType(arguments[2], &scope)
                    diagnostics.error("strncmp() expects a integer literal (\(provided?.argumentKindName ?? "none") provided)", at: expression.range)
                    return nil
                }
            }
            return .integer(signed: false)
        case "has_key": return inferHasKey(arguments, expression, &scope)
        case "nsecs":
            guard arguments.count <= 1 else {
                diagnostics.error("nsecs() takes up to 1 argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            if let mode = arguments.first {
                guard case .identifier(let word) = mode.kind, Self.timestampModes[word] != nil else {
                    diagnostics.error("Invalid timestamp mode: \(ASTPrinter.sExpression(mode)); nsecs() takes monotonic, boot or tai", at: mode.range)
                    return nil
                }
            }
            return .integer(signed: false)
        case "bswap", "kptr", "uptr", "strerror":
            guard arguments.count == 1 else {
                diagnostics.error("\(name)() requires one argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard let type = inferType(arguments[0], &scope) else { return nil }
            guard type.isInteger else {
                let accepted = name == "kptr" || name == "uptr" ? "integer or pointer" : "integer"
                diagnostics.error("\(name)() only supports \(accepted) arguments (\(type.argumentKindName) provided)", at: expression.range)
                return nil
            }
            if name == "strerror" { return .errorText }
            if name == "bswap" {
                guard integerWidth(arguments[0], &scope) != nil else {
                    diagnostics.error("bswap(): swiftbpf trace cannot tell the width of this integer; cast it, e.g. bswap((uint32)x)", at: expression.range)
                    return nil
                }
                return .integer(signed: false)
            }
            // kptr/uptr only annotate the address space; the value is the pointer itself.
            return type
        case "path", "skboutput":
            // d_path is callable from fentry/LSM/iterator programs only and skb_output from
            // fentry/fexit ones, which this kernel refuses; bpftrace's feature probes fail the
            // same way here and it says so in these words.
            for argument in arguments { _ = inferType(argument, &scope) }
            diagnostics.error(name == "path" ? "BPF_FUNC_d_path not available for your kernel version" : "BPF_FUNC_skb_output is not available for your kernel version", at: expression.range)
            return nil
        case "unwatch":
            // Detaches the watchpoint probes on that address (at run time, asynchronously).
            guard arguments.count == 1 else {
                diagnostics.error("unwatch() requires one argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard let type = inferType(arguments[0], &scope) else { return nil }
            guard type.isInteger else {
                diagnostics.error("unwatch() only supports integer arguments (\(type.argumentKindName) provided)", at: expression.range)
                return nil
            }
            return .integer(signed: false)
        case "str":
            guard (1...2).contains(arguments.count) else {
                diagnostics.error(arguments.isEmpty ? "str() requires at least one argument (0 provided)" : "str() takes up to 2 arguments (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard let source = inferType(arguments[0], &scope) else { return nil }
            // Positional parameters are the exception: `str($1)` is how a script reads one as text.
            if case .positionalParameter = arguments[0].kind {} else if !source.isInteger {
                // bpftrace sizes a literal's string type without our 8-byte padding.
                let shown: String = if case .string(let bytes) = arguments[0].kind { "string[\(bytes.count + 1)]" } else { source.isString ? "string[\(source.storageSize)]" : source.bpftraceName }
                diagnostics.error("str() expects an integer or a pointer type as first argument (\(shown) provided)", at: expression.range)
                return nil
            }
            var size = options.stringLength
            if arguments.count == 2 {
                if case .integer(let length) = arguments[1].kind {
                    guard length >= 0 else {
                        diagnostics.error("strcannot use negative length (\(length))", at: expression.range)
                        return nil
                    }
                    size = Int(Swift.min(Int64(options.stringLength), length + 1))
                } else {
                    guard let length = inferType(arguments[1], &scope) else { return nil }
                    guard length.isInteger else {
                        diagnostics.error("str() only supports integer arguments (\(length.argumentKindName) provided)", at: expression.range)
                        return nil
                    }
                }
            }
            return .string(size: alignedStringSize(size))
        case "cgroup_path":
            guard (1...2).contains(arguments.count) else {
                diagnostics.error(arguments.isEmpty ? "cgroup_path() requires at least one argument (0 provided)" : "cgroup_path() takes up to 2 arguments (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard let id = inferType(arguments[0], &scope) else { return nil }
            guard id.isInteger else {
                diagnostics.error("cgroup_path() only supports integer arguments (\(id.argumentKindName) provided)", at: expression.range)
                return nil
            }
            guard arguments.count == 2 else { return .cgroupPath(filter: nil) }
            guard case .string(let bytes) = arguments[1].kind else {
                let provided = inferType(arguments[1], &scope)
                diagnostics.error("cgroup_path() only supports string arguments (\(provided?.argumentKindName ?? "none") provided)", at: expression.range)
                return nil
            }
            return .cgroupPath(filter: String(decoding: bytes, as: UTF8.self))
        case "debugf":
            guard let format = arguments.first, case .string(let bytes) = format.kind else {
                let provided = arguments.first.flatMap { inferType($0, &scope) }
                diagnostics.error("debugf() expects a string literal (\(provided?.argumentKindName ?? "none") provided)", at: expression.range)
                return nil
            }
            var types: [TraceValueType] = []
            for argument in arguments.dropFirst() {
                guard let type = inferType(argument, &scope) else { return nil }
                types.append(type)
            }
            if let problem = PrintfFormat.check(String(decoding: bytes, as: UTF8.self), argumentTypes: types) {
                diagnostics.error(problem.replacingOccurrences(of: "printf:", with: "debugf:"), at: expression.range)
                return nil
            }
            if types.count > Self.debugArgumentLimit {
                diagnostics.error("debugf() takes up to \(Self.debugArgumentLimit) arguments after the format (bpf_trace_vprintk's limit), \(types.count) provided", at: expression.range)
                return nil
            }
            if let bad = types.first(where: { !$0.isInteger && !$0.isString }) {
                diagnostics.error("debugf() supports integer and string arguments only (\(bad.bpftraceName) provided)", at: expression.range)
                return nil
            }
            diagnostics.warning("The debugf() builtin is not recommended for production use. For more information see bpf_trace_printk in bpf-helpers(7).", at: expression.range)
            return .integer(signed: false)
        default: // override
            for argument in arguments { _ = inferType(argument, &scope) }
            if !options.unsafe {
                diagnostics.error("override() is an unsafe function being used in safe mode", at: expression.range)
            } else {
                // bpf_override_return needs a kprobe, which this kernel cannot attach (no CONFIG_KPROBES).
                diagnostics.error("override can only be used with kprobes.", at: expression.range)
            }
            return nil
        }
    }

    /// `print(@map[, top[, div]])` prints a map; `print(value)` any other printable value.
    mutating func inferPrint(_ arguments: [Expression], _ expression: Expression, _ scope: inout Scope) -> TraceValueType? {
        guard let first = arguments.first else {
            diagnostics.error("print() requires at least one argument (0 provided)", at: expression.range)
            return nil
        }
        guard arguments.count <= 3 else {
            diagnostics.error("print() takes up to 3 arguments (\(arguments.count) provided)", at: expression.range)
            return nil
        }
        guard case .map(let mapName, let keys) = first.kind else {
            guard arguments.count == 1 else {
                diagnostics.error("Non-map print() only takes 1 argument, \(arguments.count) found", at: expression.range)
                return nil
            }
            if let problem = unprintableArgument(arguments, &scope) {
                diagnostics.error(problem, at: expression.range)
                return nil
            }
            guard let type = inferType(first, &scope) else { return nil }
            return .integer(signed: false)
        }
        for key in keys { _ = inferType(key, &scope) }
        guard keys.isEmpty else {
            diagnostics.error("The map passed to print() should not be indexed by a key", at: expression.range)
            return nil
        }
        if mapIndex[mapName] == nil && !program.probes.contains(where: { assigns(mapName, in: $0.body) }) {
            diagnostics.error("Undefined map: \(mapName)", at: first.range)
            return nil
        }
        for argument in arguments.dropFirst() {
            guard case .integer = argument.kind else {
                let provided = inferType(argument, &scope)
                diagnostics.error("print() expects a integer literal (\(provided.map { $0.isString ? "string" : $0.argumentKindName } ?? "none") provided)", at: expression.range)
                return nil
            }
        }
        if arguments.count > 1, let index = mapIndex[mapName], maps[index].kind == .stats {
            diagnostics.warning("print()'s top and div arguments are ignored when used on stats() maps.", at: expression.range)
        }
        return .integer(signed: false)
    }

    /// `has_key(@map, key)`: the map must have keys; a multi-key map takes its keys as a tuple,
    /// `has_key(@m, (1, "a"))` for `@m[1, "a"]`.
    mutating func inferHasKey(_ arguments: [Expression], _ expression: Expression, _ scope: inout Scope) -> TraceValueType? {
        guard arguments.count == 2 else {
            diagnostics.error("has_key() requires 2 arguments (\(arguments.count) provided)", at: expression.range)
            return nil
        }
        guard case .map(let mapName, let keys) = arguments[0].kind, keys.isEmpty else {
            diagnostics.error("has_key() expects a map argument", at: arguments[0].range)
            return nil
        }
        guard let keyType = inferType(arguments[1], &scope) else { return nil }
        guard let index = mapIndex[mapName] else {
            if !program.probes.contains(where: { assigns(mapName, in: $0.body) }) {
                diagnostics.error("Undefined map: \(mapName)", at: arguments[0].range)
            }
            // Assigned in a later probe: pass 2 sees the map's final key types.
            return .integer(signed: false)
        }
        let map = maps[index]
        if map.keyTypes.isEmpty {
            diagnostics.error("has_key() expects a map with explicit keys (non-scalar map)", at: arguments[0].range)
            return nil
        }
        if map.kind.isHistogram {
            diagnostics.error("has_key() does not support \(map.kind.functionName)() maps", at: arguments[0].range)
            return nil
        }
        let given: [TraceValueType]
        if map.keyTypes.count > 1, case .tuple(let elements) = keyType { given = elements } else { given = [keyType] }
        if given.count != map.keyTypes.count || zip(given, map.keyTypes).contains(where: { !$0.isCompatible(with: $1) }) {
            diagnostics.error("Argument mismatch for \(mapName): trying to access with arguments: [\(given.map(\.description).joined(separator: ", "))] when map expects arguments: [\(map.keyTypes.map(\.description).joined(separator: ", "))]", at: expression.range)
            return nil
        }
        return .integer(signed: false)
    }

    /// `sarg0`..`sarg9` in uprobes (stack arguments); nil otherwise.
    mutating func inferContextBuiltin(_ name: String, _ expression: Expression, _ scope: Scope) -> TraceValueType? {
        if name.hasPrefix("sarg"), Int(name.dropFirst(4)) != nil, case .registers = scope.context.arguments { return .integer(signed: false) }
        return nil
    }

    /// The width in bytes of an integer expression as bpftrace types it (for `bswap`): casts,
    /// tracepoint fields and 32-bit builtins have their own width, other integers 64 bits.
    mutating func integerWidth(_ expression: Expression, _ scope: inout Scope) -> Int? {
        switch expression.kind {
        case .cast(let type, _) where type.pointerDepth == 0: return castWidth(type.name)?.bytes
        case .builtin(let name) where ["pid", "tid", "uid", "gid", "cpu", "numaid", "cpid"].contains(name): return 4
        case .field(let base, let name, _) where isArgs(base):
            return scope.context.tracepoint?.field(named: name).map(\.size)
        case .field:
            guard let chain = memberChain(expression, &scope), let access = memberAccess(chain, range: expression.range) else { return nil }
            if case .integer(let bytes, _) = access.result { return bytes }
            return 8
        default: return 8
        }
    }
}
