import BPFObject
import CBPFSys
import Foundation

/// The outcome of one feature probe.
public enum ProbeResult: Sendable, Hashable, CustomStringConvertible {
    case available
    /// The kernel refused; `reason` says how (errno, verifier message).
    case unavailable(reason: String)
    /// The probe could not decide (e.g. the program type cannot be loaded without a target).
    case undetermined(reason: String)

    public var isAvailable: Bool { self == .available }

    public var description: String {
        switch self {
        case .available: "available"
        case .unavailable(let reason): "not available (\(reason))"
        case .undetermined(let reason): "undetermined (\(reason))"
        }
    }
}

/// Kernel features found by trying them, never by version numbers: program types that load,
/// map types that create, helpers per program type, attach kinds, and BPF system settings.
/// Every answer is computed once per process and cached.
public enum FeatureProbe {
    // MARK: Program types

    /// Whether a minimal program of `type` loads (`r0 = 0; exit`, with the expected attach type
    /// or attach BTF id the type requires).
    public static func programType(_ type: ProgramType) -> ProbeResult {
        cache.value(for: "prog:\(type.rawValue)") { probeProgramType(type) }
    }

    /// Loads `instructions` as `type` the way the probes do; the program is closed at once.
    static func probeLoad(
        _ type: ProgramType,
        instructions: [Instruction],
        expectedAttachType: AttachType? = nil,
        attachBTFID: UInt32 = 0,
        flags: UInt32 = 0,
        logSize: Int = 0
    ) -> (result: Result<Void, Errno>, log: String) {
        let encoded = instructions.encoded()
        var log = [UInt8](repeating: 0, count: logSize)
        let result: Result<Int32, Errno> = encoded.withUnsafeBytes { insns in
            "GPL".withCString { license in
                log.withUnsafeMutableBytes { logBuffer in
                    var attr = sbpf_prog_load_attr()
                    attr.prog_type = type.rawValue
                    attr.insn_cnt = UInt32(instructions.count)
                    attr.insns = kernelPointer(insns.baseAddress)
                    attr.license = kernelPointer(license)
                    attr.expected_attach_type = expectedAttachType?.rawValue ?? 0
                    attr.attach_btf_id = attachBTFID
                    attr.prog_flags = flags
                    if logSize > 0 {
                        attr.log_level = 1
                        attr.log_size = UInt32(logSize)
                        attr.log_buf = kernelPointer(logBuffer.baseAddress)
                    }
                    return BPFSyscall.invoke(.progLoad, &attr)
                }
            }
        }
        let text = String(decoding: log.prefix(while: { $0 != 0 }), as: UTF8.self)
        switch result {
        case .success(let fd):
            close(fd)
            return (.success(()), text)
        case .failure(let errno):
            return (.failure(errno), text)
        }
    }

    static let returnZero = [Instruction(opcode: 0xb7, dst: 0, immediate: 0), Instruction(opcode: 0x95)]

    /// The expected attach type a program type needs to load at all (kernel
    /// bpf_prog_load_check_attach), or nil.
    static func probeAttachType(for type: ProgramType) -> AttachType? {
        switch type {
        case .cgroupSockAddr: .cgroupInet4Connect
        case .cgroupSockopt: .cgroupGetsockopt
        case .skLookup: .skLookup
        case .lircMode2: .lircMode2
        case .netfilter: .netfilter
        default: nil
        }
    }

    private static func probeProgramType(_ type: ProgramType) -> ProbeResult {
        switch type {
        case .unspecified:
            return .unavailable(reason: "not a real program type")
        case .tracing, .lsm, .ext:
            // These need a BTF attach target. Pointing at BTF id 1 (never a function in vmlinux)
            // makes a kernel that knows the type answer EINVAL with a specific message.
            let expected: (AttachType?, String) = switch type {
            case .tracing: (.traceFentry, "attach_btf_id 1 is not a function")
            case .lsm: (.modifyReturn, "attach_btf_id 1 is not a function")
            default: (nil, "Cannot replace kernel functions")
            }
            let (result, log) = probeLoad(type, instructions: returnZero, expectedAttachType: expected.0, attachBTFID: 1, logSize: 4096)
            switch result {
            case .success: return .available
            case .failure(.EINVAL) where log.contains(expected.1): return .available
            case .failure(let errno): return .unavailable(reason: refusal(errno, log))
            }
        case .structOps:
            // A struct_ops program without a target struct fails with ENOTSUPP once the type exists.
            let (result, log) = probeLoad(type, instructions: returnZero)
            switch result {
            case .success, .failure(.ENOTSUPP): return .available
            case .failure(let errno): return .unavailable(reason: refusal(errno, log))
            }
        default:
            let flags: UInt32 = type == .syscall ? 1 << 4 : 0 // BPF_F_SLEEPABLE: syscall programs must be
            let (result, log) = probeLoad(type, instructions: returnZero, expectedAttachType: probeAttachType(for: type), flags: flags)
            switch result {
            case .success: return .available
            case .failure(let errno): return .unavailable(reason: refusal(errno, log))
            }
        }
    }

    static func refusal(_ errno: Errno, _ log: String) -> String {
        let lastLine = log.split(separator: "\n").last.map { ": \($0)" } ?? ""
        return "\(errno.name)\(lastLine)"
    }

    // MARK: Helpers

    /// Whether programs of `type` may call helper `id`.
    ///
    /// Loads `call id; r0 = 0; exit`. A verifier that does not know the helper says
    /// "invalid func"; one that knows it but not for this program type says "unknown func".
    /// Any other outcome (success, or a complaint about arguments) means the helper is there.
    public static func helper(_ id: Int32, for type: ProgramType) -> ProbeResult {
        cache.value(for: "helper:\(type.rawValue):\(id)") {
            switch type {
            case .tracing, .ext, .lsm, .structOps:
                return .undetermined(reason: "\(type.name) programs need an attach target to load")
            default: break
            }
            guard programType(type).isAvailable else { return .unavailable(reason: "program type \(type.name) is not available") }
            let instructions = [Instruction(opcode: 0x85, immediate: id), Instruction(opcode: 0xb7, dst: 0, immediate: 0), Instruction(opcode: 0x95)]
            let flags: UInt32 = type == .syscall ? 1 << 4 : 0
            let (result, log) = probeLoad(type, instructions: instructions, expectedAttachType: probeAttachType(for: type),
                                          flags: flags, logSize: 4096)
            if case .failure(let errno) = result, log.contains("invalid func ") || log.contains("unknown func ") {
                return .unavailable(reason: refusal(errno, log))
            }
            return .available
        }
    }

    /// Helpers probed by default: all but those that write a warning to the kernel log when a
    /// program using them loads (bpf_trace_printk, bpf_trace_vprintk, bpf_probe_write_user).
    public static let quietHelpers: [(id: Int32, name: String)] = KernelHelperCatalog.helpers.filter {
        !["bpf_trace_printk", "bpf_trace_vprintk", "bpf_probe_write_user"].contains($0.name)
    }

    /// The helpers programs of `type` may call, by id; nil when that cannot be determined.
    public static func availableHelpers(for type: ProgramType, includingNoisy: Bool = false) -> [(id: Int32, name: String)]? {
        if case .undetermined = helper(1, for: type) { return nil }
        let candidates = includingNoisy ? KernelHelperCatalog.helpers : quietHelpers
        return candidates.filter { helper($0.id, for: type).isAvailable }
    }

    // MARK: Miscellaneous instruction-set features

    /// Programs larger than 4096 instructions (the pre-5.2 BPF_MAXINSNS) load.
    public static var largeInstructionLimit: ProbeResult {
        cache.value(for: "misc:large") {
            let body = [Instruction](repeating: Instruction(opcode: 0xb7, dst: 0, immediate: 1), count: 4096)
            return loadsAsSocketFilter(body + [Instruction(opcode: 0x95)])
        }
    }

    /// Bounded loops (backward jumps) pass the verifier.
    public static var boundedLoops: ProbeResult {
        cache.value(for: "misc:loops") {
            loadsAsSocketFilter([
                Instruction(opcode: 0xb7, dst: 0, immediate: 10),   // r0 = 10
                Instruction(opcode: 0x17, dst: 0, immediate: 1),    // r0 -= 1
                Instruction(opcode: 0x55, dst: 0, offset: -2, immediate: 0), // if r0 != 0 goto -2
                Instruction(opcode: 0x95),
            ])
        }
    }

    /// ISA v2: the "less than" conditional jumps (BPF_JLT/JLE/JSLT/JSLE).
    public static var isaV2: ProbeResult {
        cache.value(for: "misc:v2") {
            loadsAsSocketFilter([
                Instruction(opcode: 0xb7, dst: 0, immediate: 0),
                Instruction(opcode: 0xa5, dst: 0, offset: 0, immediate: 1), // if r0 < 1 goto +0
                Instruction(opcode: 0xb7, dst: 0, immediate: 1),
                Instruction(opcode: 0x95),
            ])
        }
    }

    /// ISA v3: 32-bit conditional jumps (BPF_JMP32).
    public static var isaV3: ProbeResult {
        cache.value(for: "misc:v3") {
            loadsAsSocketFilter([
                Instruction(opcode: 0xb7, dst: 0, immediate: 0),
                Instruction(opcode: 0xa6, dst: 0, offset: 0, immediate: 1), // if w0 < 1 goto +0
                Instruction(opcode: 0xb7, dst: 0, immediate: 1),
                Instruction(opcode: 0x95),
            ])
        }
    }

    /// Loads without a log (a log of a 4097-instruction program would not fit a small
    /// buffer); only a refusal is repeated with a log, to say why.
    private static func loadsAsSocketFilter(_ instructions: [Instruction]) -> ProbeResult {
        guard case .failure(let errno) = probeLoad(.socketFilter, instructions: instructions).result else { return .available }
        let (_, log) = probeLoad(.socketFilter, instructions: instructions, logSize: 64 * 1024)
        return .unavailable(reason: refusal(errno, log))
    }

    // MARK: Cache

    static let cache = ProbeCache()
}

/// Per-process memo of probe results; probes are deterministic for one boot of one kernel.
final class ProbeCache: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [String: ProbeResult] = [:]

    func value(for key: String, compute: () -> ProbeResult) -> ProbeResult {
        lock.lock()
        if let known = results[key] {
            lock.unlock()
            return known
        }
        lock.unlock()
        let result = compute()
        lock.lock()
        results[key] = result
        lock.unlock()
        return result
    }
}
