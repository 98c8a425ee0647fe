/// Every failure of the library. Each case says what went wrong and, where the kernel was
/// involved, which call and errno, in words a user can act on.
public enum BPFError: Error, CustomStringConvertible, Sendable {
    /// A system call failed.
    case syscall(SystemCallFailure)
    /// The verifier refused a program; carries its log.
    case verifierRejected(VerifierRejection)
    /// The caller passed something that cannot work; nothing was sent to the kernel.
    case invalidArgument(String)
    /// A named thing (tracepoint, symbol, interface, pinned path, id) does not exist.
    case notFound(what: String, detail: String)
    /// The running kernel (or machine) lacks a feature.
    case unsupported(feature: String, detail: String)
    /// The object was used or closed after it had been closed.
    case closed(String)

    public var description: String {
        switch self {
        case .syscall(let failure): failure.description
        case .verifierRejected(let rejection): rejection.description
        case .invalidArgument(let message): "invalid argument: \(message)"
        case .notFound(let what, let detail): "\(what) not found: \(detail)"
        case .unsupported(let feature, let detail): "\(feature) is not supported here: \(detail)"
        case .closed(let what): "\(what) is already closed"
        }
    }

    /// The errno behind this error, if a system call produced it.
    public var errno: Errno? {
        switch self {
        case .syscall(let failure): failure.errno
        case .verifierRejected(let rejection): rejection.errno
        default: nil
        }
    }
}

/// A failed system call: which one, on what, the errno, and what it means for the user.
public struct SystemCallFailure: Sendable, CustomStringConvertible {
    /// `BPF_MAP_CREATE`, `perf_event_open`, `ioctl(PERF_EVENT_IOC_SET_BPF)`, ...
    public let operation: String
    public let errno: Errno
    /// The object involved, e.g. "map 'counts'" or "tracepoint syscalls:sys_enter_openat".
    public let subject: String?
    /// One sentence on what this means and what to do.
    public let meaning: String

    public init(operation: String, errno: Errno, subject: String? = nil, meaning: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.subject = subject
        self.meaning = meaning ?? Self.meaning(of: errno, in: operation)
    }

    public var description: String {
        let on = subject.map { " on \($0)" } ?? ""
        return "\(operation)\(on) failed with \(errno.name) (\(errno.summary)): \(meaning)"
    }

    /// The generic reading of an errno for a bpf()/perf call; callers that know more pass
    /// their own `meaning`.
    public static func meaning(of errno: Errno, in operation: String) -> String {
        switch errno {
        case .EPERM:
            return "not permitted: run as root, or grant CAP_BPF (plus CAP_PERFMON for tracing, CAP_NET_ADMIN for networking)"
        case .EACCES:
            return "access denied by the kernel (missing capability, or a check such as the verifier or a read-only object refused it)"
        case .ENOENT:
            switch operation {
            case "BPF_MAP_LOOKUP_ELEM", "BPF_MAP_DELETE_ELEM", "BPF_MAP_LOOKUP_AND_DELETE_ELEM":
                return "no such key in the map"
            case "BPF_OBJ_GET": return "nothing is pinned at this path"
            case let op where op.hasSuffix("_GET_FD_BY_ID"): return "no object with this id (it may have been freed)"
            default: return "the object does not exist"
            }
        case .E2BIG:
            if operation == "BPF_MAP_UPDATE_ELEM" { return "the map is full (max_entries reached)" }
            return "too big: a size or count exceeds what the kernel allows, or the kernel is older and does not know a field we set"
        case .EEXIST:
            return operation == "BPF_OBJ_PIN" ? "something is already pinned at this path" : "the element or object already exists"
        case .EBADF: return "the file descriptor is not open or not the kind of BPF object expected"
        case .EINVAL: return "the kernel rejected an argument: a type, flag, size or attach kind this kernel does not accept here"
        case .ENOMEM: return "the kernel could not allocate memory (object too large, or the memory cgroup limit is reached)"
        case .EBUSY: return "busy: something is already attached there, or the object is in use"
        case .ENOSPC: return "no space left (log buffer too small, or a resource limit reached)"
        case .EOPNOTSUPP, .ENOTSUPP: return "this operation is not supported for this object type on this kernel"
        case .ENOSYS: return "the kernel has no bpf() support (CONFIG_BPF_SYSCALL off)"
        case .EFAULT: return "the kernel could not read or write a buffer we passed"
        case .ENODEV: return "no such device or the device does not support this"
        case .ESRCH: return "no such process"
        case .EMFILE: return "too many open files in this process (raise RLIMIT_NOFILE)"
        case .EAGAIN: return "resource temporarily unavailable; try again"
        case .ENXIO: return "no such device or address"
        default: return "the kernel refused the request"
        }
    }
}

/// The verifier's refusal of one program.
public struct VerifierRejection: Sendable, CustomStringConvertible {
    public let programName: String
    public let errno: Errno
    /// The complete verifier log.
    public let log: String
    /// The instruction index the verifier was at when it gave up, if the log names one.
    public let failingInstruction: Int?
    /// The log line that shows the failing instruction (e.g. `12: (61) r1 = *(u32 *)(r2 +0)`).
    public let failingInstructionText: String?
    /// The source line of the failing instruction, when line info is known.
    public var sourceLine: String?

    public init(programName: String, errno: Errno, log: String, sourceLine: String? = nil) {
        self.programName = programName
        self.errno = errno
        self.log = log
        let located = Self.locateFailure(in: log)
        self.failingInstruction = located?.index
        self.failingInstructionText = located?.text
        self.sourceLine = sourceLine
    }

    /// The verifier's own closing words: the last non-empty lines that are not statistics.
    public var reason: String {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let meaningful = lines.filter {
            !$0.hasPrefix("processed ") && !$0.hasPrefix("verification time") && !$0.hasPrefix("stack depth")
                && !$0.hasPrefix("max_states_per_insn")
                // After "infinite loop detected at insn N" the verifier dumps the two equal states.
                && !$0.hasPrefix("cur state:") && !$0.hasPrefix("old state:")
        }
        return meaningful.last ?? "no verifier log (errno \(errno.name))"
    }

    public var description: String {
        var text = "program '\(programName)' was rejected by the verifier (\(errno.name)): \(reason)"
        if let index = failingInstruction, let insn = failingInstructionText {
            text += "\n  at instruction \(index): \(insn)"
        }
        if let sourceLine { text += "\n  source: \(sourceLine)" }
        let tail = log.split(separator: "\n", omittingEmptySubsequences: true).suffix(20)
        if !tail.isEmpty { text += "\nverifier log (last \(tail.count) lines):\n" + tail.joined(separator: "\n") }
        return text
    }

    /// Finds the last instruction line (`N: (op) text`) in a verifier log.
    static func locateFailure(in log: String) -> (index: Int, text: String)? {
        for line in log.split(separator: "\n").reversed() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let number = line[..<colon]
            guard !number.isEmpty, number.allSatisfy(\.isNumber), let index = Int(number) else { continue }
            let rest = line[line.index(after: colon)...].drop(while: { $0 == " " })
            guard rest.hasPrefix("(") else { continue }
            return (index, String(line))
        }
        return nil
    }
}
