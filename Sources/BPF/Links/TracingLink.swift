import BPFObject
import CBPFSys
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension Program {
    /// Attaches a BTF-attached tracing program — tp_btf, fentry, fexit, fmod_ret, lsm or iter —
    /// to the target it was loaded for (`ProgramSpec.attachBTFID` with its expected attach type)
    /// with BPF_LINK_CREATE. Kernels whose BPF_LINK_CREATE does not take the kind yet (tp_btf
    /// before 6.10, all of them before 5.8) get BPF_RAW_TRACEPOINT_OPEN without a name, which
    /// attaches a tracing program to its load-time target.
    ///
    /// - Parameter target: the target's name, for messages (`sched_switch`, `do_sys_openat2`).
    /// - Parameter cookie: the value `bpf_get_attach_cookie()` returns in the program.
    public func attachTracing(target: String? = nil, cookie: UInt64 = 0) throws -> KernelLink {
        guard type == .tracing || type == .lsm, let attachType = expectedAttachType else {
            throw BPFError.invalidArgument("'\(name)' is a \(type.name) program\(expectedAttachType == nil ? " without an expected attach type" : ""); BTF-attached links need a tracing or lsm program loaded with an expected attach type and attach BTF id")
        }
        let kind = Self.tracingKindName(attachType)
        let label = "\(kind) \(target ?? "'\(name)'")"
        let meaning: (Errno) -> String? = { errno in Self.tracingAttachMeaning(errno, kind: kind, attachType: attachType) }
        do {
            return try KernelLink.create(program: self, attachType: attachType, description: label, meaning: meaning) { attr in
                if attachType != .traceIter { attr.tail.tracing.cookie = cookie }
            }
        } catch let error as BPFError where error.errno == .EINVAL && attachType != .traceIter && cookie == 0 {
            // Older kernels: the raw tracepoint command attaches tracing programs too.
            var attr = sbpf_raw_tracepoint_attr()
            attr.prog_fd = UInt32(bitPattern: try fd.value())
            guard case .success(let raw) = BPFSyscall.invoke(.rawTracepointOpen, &attr) else { throw error }
            return KernelLink(fd: OwnedFileDescriptor(adopting: raw, label: label), description: label)
        }
    }

    /// libbpf's section prefix for each BTF-attached kind.
    static func tracingKindName(_ attachType: AttachType) -> String {
        switch attachType {
        case .traceRawTp: "tp_btf"
        case .traceFentry: "fentry"
        case .traceFexit: "fexit"
        case .modifyReturn: "fmod_ret"
        case .lsmMac: "lsm"
        case .traceIter: "iter"
        default: attachType.name
        }
    }

    static func tracingAttachMeaning(_ errno: Errno, kind: String, attachType: AttachType) -> String? {
        switch (errno, attachType) {
        case (.EPERM, .traceFentry), (.EPERM, .traceFexit), (.EPERM, .modifyReturn):
            "fentry/fexit programs are not permitted by this kernel (EPERM): it cannot build BPF trampolines here (kernel lockdown, or no ftrace direct-call support such as CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS); use a tracepoint, raw tracepoint or tp_btf program instead"
        case (.EPERM, .lsmMac):
            "LSM programs are not permitted by this kernel (EPERM): the BPF LSM must be built in (CONFIG_BPF_LSM) and enabled with 'bpf' in the lsm= boot parameter, and trampolines must be available"
        case (.EINVAL, _):
            "the kernel refused the \(kind) attach: the program must be loaded with expected attach type \(attachType.name) and the attach BTF id of its target"
        case (.ENOTSUPP, _), (.EOPNOTSUPP, _):
            "this kernel does not support \(kind) links"
        case (.EBUSY, _):
            "a \(kind) program with this target is already attached through this program (one link per program and target)"
        default:
            nil
        }
    }
}

extension Program {
    /// What an EPERM from BPF_PROG_LOAD means for a BTF-attached program when the process is
    /// privileged: the kernel itself refuses the kind (no trampolines, BPF LSM disabled), which
    /// the generic "needs root" reading would misstate. Nil for other programs.
    static func btfAttachedLoadRefusal(_ spec: ProgramSpec) -> String? {
        guard spec.type == .tracing || spec.type == .lsm, let attachType = spec.expectedAttachType, geteuid() == 0 else { return nil }
        switch attachType {
        case .traceFentry, .traceFexit, .modifyReturn:
            return "fentry/fexit programs are not permitted by this kernel (EPERM) although this process is privileged: it refuses BPF trampolines (kernel lockdown, or built without the ftrace direct-call support they need, CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS); use a tracepoint, raw tracepoint or tp_btf program instead"
        case .lsmMac:
            return "LSM programs are not permitted by this kernel (EPERM) although this process is privileged: the BPF LSM must be built in (CONFIG_BPF_LSM) and enabled with 'bpf' in the lsm= boot parameter"
        default:
            return nil
        }
    }
}

extension KernelLink {
    /// Runs an iterator link (iter programs) once with BPF_ITER_CREATE and returns everything
    /// the program wrote with `bpf_seq_write`/`bpf_seq_printf`.
    public func readIterator() throws -> [UInt8] {
        var attr = sbpf_link_fd_attr()
        attr.link_fd = UInt32(bitPattern: try fd.value())
        let iterator = try BPFSyscall.callReturningFD(.iterCreate, &attr, label: "iterator of \(description)")
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(iterator.rawValue, $0.baseAddress, $0.count) }
            if count > 0 { output.append(contentsOf: buffer[0..<count]); continue }
            if count == 0 { return output }
            let error = Errno.current
            if error == .EINTR || error == .EAGAIN { continue }
            throw BPFError.syscall(SystemCallFailure(operation: "read", errno: error, subject: iterator.label))
        }
    }
}

/// What a BTF-attached program attaches to, in the kernel's naming: the program and attach type
/// a section prefix means and the vmlinux BTF type whose id goes into `attach_btf_id`.
///
/// The kernel's conventions (kernel/bpf/verifier.c, bpf_check_attach_target):
/// `tp_btf/<tp>` → the TYPEDEF `btf_trace_<tp>`; `fentry|fexit|fmod_ret/<function>` → the FUNC
/// `<function>`; `lsm/<hook>` → the FUNC `bpf_lsm_<hook>`; `iter/<target>` → the FUNC
/// `bpf_iter_<target>`.
public struct BTFAttachTarget: Hashable, Sendable, CustomStringConvertible {
    public var programType: ProgramType
    public var attachType: AttachType
    /// The name as written after the prefix (`sched_switch`, `do_sys_openat2`).
    public var name: String
    /// The BTF type to look up (`btf_trace_sched_switch`, `bpf_lsm_file_open`).
    public var btfTypeName: String
    /// `.typedef` for tp_btf, `.function` for the others.
    public var btfKind: BTFKind

    /// Parses `tp_btf/sched_switch`, `fentry/do_sys_openat2`, `fexit/...`, `fmod_ret/...`,
    /// `lsm/file_open`, `iter/task` (a `.s` suffix on the prefix, as in `fentry.s/`, marks a
    /// sleepable program and is accepted).
    public init(_ qualified: String) throws {
        let parts = qualified.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else {
            throw BPFError.invalidArgument("'\(qualified)' is not a BTF attach target; write kind/name, e.g. tp_btf/sched_switch or fentry/do_sys_openat2")
        }
        let kind = parts[0].hasSuffix(".s") ? String(parts[0].dropLast(2)) : parts[0]
        name = parts[1]
        switch kind {
        case "tp_btf":
            (programType, attachType, btfTypeName, btfKind) = (.tracing, .traceRawTp, "btf_trace_" + name, .typedef)
        case "fentry":
            (programType, attachType, btfTypeName, btfKind) = (.tracing, .traceFentry, name, .function)
        case "fexit":
            (programType, attachType, btfTypeName, btfKind) = (.tracing, .traceFexit, name, .function)
        case "fmod_ret":
            (programType, attachType, btfTypeName, btfKind) = (.tracing, .modifyReturn, name, .function)
        case "lsm":
            (programType, attachType, btfTypeName, btfKind) = (.lsm, .lsmMac, "bpf_lsm_" + name, .function)
        case "iter":
            (programType, attachType, btfTypeName, btfKind) = (.tracing, .traceIter, "bpf_iter_" + name, .function)
        default:
            throw BPFError.invalidArgument("'\(kind)' is not a BTF-attached program kind (tp_btf, fentry, fexit, fmod_ret, lsm, iter)")
        }
    }

    public var description: String { "\(Program.tracingKindName(attachType))/\(name)" }
}

extension BTFAttachTarget {
    /// The id of this target's type in `btf` (its `attach_btf_id`).
    public func typeID(in btf: BTF) throws -> UInt32 {
        guard let id = btf.typeIDs(named: btfTypeName, kind: btfKind).first else {
            let hint = switch attachType {
            case .traceRawTp: "there is no tracepoint '\(name)' (tp_btf takes the bare event name, e.g. tp_btf/sched_switch; list them with Tracefs.categories()/events(in:))"
            case .lsmMac: "there is no LSM hook '\(name)' (hooks are named without the security_ prefix, e.g. lsm/file_open)"
            case .traceIter: "there is no iterator '\(name)' (e.g. iter/task, iter/bpf_map)"
            default: "the kernel has no function '\(name)' in its BTF (it may be inlined, renamed by the compiler, or in a module, which this does not search)"
            }
            throw BPFError.notFound(what: "\(description) target (BTF \(btfKind.rawName) '\(btfTypeName)')", detail: hint)
        }
        return id
    }

    /// The id of this target's type in the running kernel's BTF (/sys/kernel/btf/vmlinux).
    public func kernelTypeID() throws -> UInt32 { try typeID(in: KernelBTF.vmlinux()) }
}

extension ProgramSpec {
    /// A spec for a BTF-attached program (`tp_btf/sched_switch`, `fentry/do_sys_openat2`,
    /// `lsm/file_open`, `iter/task`, ...): program type, expected attach type and the attach BTF
    /// id resolved in the running kernel's BTF, ready for `Program(_:)` then `attachTracing()`.
    public static func btfAttached(_ qualified: String, name: String, instructions: [Instruction],
                                   license: String = "GPL", flags: UInt32 = 0) throws -> ProgramSpec {
        let target = try BTFAttachTarget(qualified)
        var spec = ProgramSpec(name: name, type: target.programType, expectedAttachType: target.attachType,
                               instructions: instructions, license: license, flags: flags,
                               attachBTFID: try target.kernelTypeID(), sectionName: qualified)
        // A `.s` prefix (fentry.s/, lsm.s/) marks a sleepable program: BPF_F_SLEEPABLE.
        if qualified.split(separator: "/").first?.hasSuffix(".s") == true { spec.flags |= 1 << 4 }
        return spec
    }
}
