import Foundation

/// What the language knows about names: which words are builtins, functions and stack modes (the
/// lexer classifies words by these, as bpftrace 0.17 does), and each function's arity and kind
/// for the semantic pass.
public enum BPFTraceLanguage {
    /// Builtin variables (`arg0`..`arg9` and `sarg0`..`sarg9` are matched by pattern).
    public static let builtinVariables: Set<String> = [
        "args", "cgroup", "comm", "cpid", "numaid", "cpu", "ctx", "curtask", "elapsed", "func", "gid",
        "jiffies", "pid", "probe", "rand", "retval", "tid", "uid", "username",
    ]

    /// Words that are both a builtin and a function (`nsecs` and later bpftrace's `nsecs(boot)`).
    public static let callAndBuiltin: Set<String> = ["kstack", "ustack", "nsecs"]

    public static let stackModes: Set<String> = ["bpftrace", "perf"]

    public static func isBuiltinVariable(_ word: String) -> Bool {
        if builtinVariables.contains(word) { return true }
        let bytes = Array(word.utf8)
        if bytes.count == 4, word.hasPrefix("arg"), Lexer.isDigit(bytes[3]) { return true }
        if bytes.count == 5, word.hasPrefix("sarg"), Lexer.isDigit(bytes[4]) { return true }
        return false
    }

    /// The token kind of every listed word, built once from the lists above: one hash lookup
    /// per identifier instead of up to four. Later loops win, so the precedence is stack mode,
    /// builtin, call-and-builtin, function.
    private static let wordKinds: [String: Token.Kind] = {
        var kinds: [String: Token.Kind] = [:]
        for name in functions.keys { kinds[name] = .call }
        for name in callAndBuiltin { kinds[name] = .callBuiltin }
        for name in builtinVariables { kinds[name] = .builtin }
        for name in stackModes { kinds[name] = .stackMode }
        return kinds
    }()

    static func tokenKind(ofWord word: String) -> Token.Kind {
        if let kind = wordKinds[word] { return kind }
        if isBuiltinVariable(word) { return .builtin } // arg0..arg9, sarg0..sarg9
        return .identifier
    }

    /// How a function may be used.
    public enum FunctionKind: Sendable, Equatable {
        /// Only as the value assigned to a map: `@x = count()`.
        case mapAggregation
        /// Returns a value usable in expressions.
        case value
        /// A statement for its effect (printf, exit, delete).
        case action
    }

    public struct FunctionSignature: Sendable, Equatable {
        public var name: String
        public var minimumArguments: Int
        /// nil: variadic.
        public var maximumArguments: Int?
        public var kind: FunctionKind

        public func accepts(argumentCount: Int) -> Bool {
            argumentCount >= minimumArguments && (maximumArguments.map { argumentCount <= $0 } ?? true)
        }
    }

    private static func signature(_ name: String, _ minimum: Int, _ maximum: Int?, _ kind: FunctionKind) -> (String, FunctionSignature) {
        (name, FunctionSignature(name: name, minimumArguments: minimum, maximumArguments: maximum, kind: kind))
    }

    /// bpftrace 0.17's functions (its reference guide's list), plus `offsetof`, `nsecs(mode)` and
    /// `has_key` from later releases.
    public static let functions: [String: FunctionSignature] = Dictionary(uniqueKeysWithValues: [
        // map aggregations
        signature("count", 0, 0, .mapAggregation),
        signature("sum", 1, 1, .mapAggregation),
        signature("avg", 1, 1, .mapAggregation),
        signature("min", 1, 1, .mapAggregation),
        signature("max", 1, 1, .mapAggregation),
        signature("stats", 1, 1, .mapAggregation),
        signature("hist", 1, 1, .mapAggregation),
        signature("lhist", 4, 4, .mapAggregation),
        // map functions
        signature("delete", 1, 1, .action),
        signature("clear", 1, 1, .action),
        signature("zero", 1, 1, .action),
        signature("print", 1, 3, .action),
        signature("len", 1, 1, .value),
        // output and control
        signature("printf", 1, nil, .action),
        signature("system", 1, nil, .action),
        signature("cat", 1, nil, .action),
        signature("debugf", 1, nil, .action),
        signature("time", 0, 1, .action),
        signature("join", 1, 2, .action),
        signature("exit", 0, 0, .action),
        signature("signal", 1, 1, .action),
        signature("override", 1, 1, .action),
        signature("unwatch", 1, 1, .action),
        // values
        signature("str", 1, 2, .value),
        signature("buf", 1, 2, .value),
        signature("ksym", 1, 1, .value),
        signature("usym", 1, 1, .value),
        signature("kaddr", 1, 1, .value),
        signature("uaddr", 1, 1, .value),
        signature("kptr", 1, 1, .value),
        signature("uptr", 1, 1, .value),
        signature("reg", 1, 1, .value),
        signature("ntop", 1, 2, .value),
        signature("pton", 1, 1, .value),
        signature("macaddr", 1, 1, .value),
        signature("cgroupid", 1, 1, .value),
        signature("cgroup_path", 1, 2, .value),
        signature("strftime", 2, 2, .value),
        signature("strncmp", 3, 3, .value),
        signature("strcontains", 2, 2, .value),
        signature("strerror", 1, 1, .value),
        signature("sizeof", 1, 1, .value),
        signature("offsetof", 2, 2, .value),
        signature("path", 1, 1, .value),
        signature("bswap", 1, 1, .value),
        signature("skboutput", 4, 4, .action),
        // kstack/ustack are also builtins: kstack, kstack(5), kstack(perf, 5)
        signature("kstack", 0, 2, .value),
        signature("ustack", 0, 2, .value),
        // from later bpftrace releases
        signature("nsecs", 0, 1, .value),
        signature("has_key", 2, 2, .value),
    ])

    /// Probe types and their short aliases (`k:` is `kprobe:`).
    public static let probeTypes: [(name: String, alias: String)] = [
        ("BEGIN", "BEGIN"), ("END", "END"),
        ("kprobe", "k"), ("kretprobe", "kr"), ("uprobe", "u"), ("uretprobe", "ur"), ("usdt", "U"),
        ("tracepoint", "t"), ("rawtracepoint", "rt"), ("profile", "p"), ("interval", "i"),
        ("software", "s"), ("hardware", "h"), ("watchpoint", "w"), ("asyncwatchpoint", "aw"),
        ("kfunc", "f"), ("kretfunc", "fr"), ("iter", "it"),
    ]

    /// The full probe type name for a name or alias (`fentry`/`fexit` are later bpftrace's names
    /// for kfunc/kretfunc), or nil.
    public static func probeType(named name: String) -> String? {
        if name == "fentry" { return "kfunc" }
        if name == "fexit" { return "kretfunc" }
        for entry in probeTypes where entry.name == name || entry.alias == name { return entry.name }
        return nil
    }
}
