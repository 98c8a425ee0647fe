import BPFObject
import CBPFSys
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A program attached to one perf event: a tracepoint, kprobe, uprobe or sampling event.
///
/// Owns the perf event descriptor, the `bpf_link` over it when the kernel has perf links (5.15+),
/// and the cleanup of anything created for it (a legacy tracefs probe entry). Closing or
/// releasing it detaches the program, closes the event and removes that entry.
public final class PerfEventLink: Link, @unchecked Sendable {
    /// The perf event the program runs on.
    public let perfEvent: OwnedFileDescriptor
    /// The `bpf_link` when attached through BPF_LINK_CREATE; nil when the kernel lacked perf
    /// links and the program was attached with `ioctl(PERF_EVENT_IOC_SET_BPF)`.
    public let kernelLink: KernelLink?
    public let description: String
    private var cleanup: (() -> Void)?
    private var isClosed = false

    /// Attaches `program` to the open perf event `perfEvent` (taking ownership of it) and enables
    /// it. `cleanup` runs once when the link closes, after the event is closed. `method` is only
    /// forced by tests of the legacy path.
    ///
    /// `cookie` is what `bpf_get_attach_cookie()` returns in the program; it needs a perf link
    /// (Linux 5.15+), so a non-zero cookie fails on kernels without them instead of being lost.
    init(program: Program, perfEvent: OwnedFileDescriptor, description: String,
         method: PerfEventAttachMethod = .automatic, cookie: UInt64 = 0, cleanup: (() -> Void)? = nil) throws {
        self.perfEvent = perfEvent
        self.description = description
        self.cleanup = cleanup
        do {
            let eventFD = try perfEvent.value()
            let useLink = method == .bpfLink || (method == .automatic && PerfLinkSupport.mayHaveLinks)
            var link: KernelLink? = nil
            if useLink {
                do {
                    link = try KernelLink.create(program: program, targetFD: eventFD, attachType: .perfEvent, description: description,
                                                 meaning: { errno in Self.attachMeaning(errno, program: program) },
                                                 configure: { $0.tail.perf_event.bpf_cookie = cookie })
                    PerfLinkSupport.learned(available: true)
                } catch BPFError.syscall(let failure) where method == .automatic && PerfLinkSupport.mayLackLinks(failure.errno) {
                    // Either the kernel predates perf links or it refuses this program on this
                    // event; the ioctl tells which (it fails the same way in the second case).
                    guard cookie == 0 else {
                        throw PerfLinkSupport.isAvailable ? BPFError.syscall(failure) : Self.cookieUnsupported(description)
                    }
                    try Self.setProgramByIoctl(eventFD, program: program, description: description)
                    PerfLinkSupport.learned(available: false)
                }
            } else {
                guard cookie == 0 else { throw Self.cookieUnsupported(description) }
                try Self.setProgramByIoctl(eventFD, program: program, description: description)
            }
            kernelLink = link
            guard sbpf_ioctl_int(eventFD, SBPF_PERF_EVENT_IOC_ENABLE, 0) == 0 else {
                throw BPFError.syscall(SystemCallFailure(operation: "ioctl(PERF_EVENT_IOC_ENABLE)", errno: .current, subject: description))
            }
        } catch {
            // Nothing may outlive a failed attach: the event fd closes with `perfEvent`, the
            // tracefs entry goes now.
            try? perfEvent.close()
            cleanup?()
            self.cleanup = nil
            isClosed = true
            throw error
        }
    }

    /// `ioctl(PERF_EVENT_IOC_SET_BPF)`: the attach of kernels without perf links (4.1+).
    private static func setProgramByIoctl(_ eventFD: Int32, program: Program, description: String) throws {
        guard sbpf_ioctl_int(eventFD, SBPF_PERF_EVENT_IOC_SET_BPF, UInt(try program.fd.value())) == 0 else {
            let error = Errno.current
            throw BPFError.syscall(SystemCallFailure(operation: "ioctl(PERF_EVENT_IOC_SET_BPF)", errno: error, subject: description,
                                                     meaning: Self.attachMeaning(error, program: program)))
        }
    }

    private static func cookieUnsupported(_ description: String) -> BPFError {
        .unsupported(feature: "BPF cookies on perf events (\(description))", detail: "they need perf links (BPF_LINK_CREATE with BPF_PERF_EVENT, Linux 5.15+), which this kernel lacks")
    }

    static func attachMeaning(_ errno: Errno, program: Program) -> String? {
        switch errno {
        case .EINVAL: "the kernel refused to attach \(program.type.name) program '\(program.name)' to this event: the program type must match the event (tracepoint for tracepoints, kprobe for kprobes/uprobes, perf_event for sampling events)"
        case .EEXIST: "a program is already attached to this perf event"
        case .EACCES where program.type == .tracepoint && geteuid() == 0:
            // kernel/trace/bpf_trace.c perf_event_attach_bpf_prog: the program's largest
            // context offset must lie within the tracepoint's record.
            "program '\(program.name)' reads past the end of this tracepoint's record; check the field offsets against Tracefs.format(category:name:)"
        case .EPERM, .EACCES: "attaching to perf events needs CAP_PERFMON (or CAP_SYS_ADMIN) and CAP_BPF"
        default: nil
        }
    }

    /// Detaches the program, closes the event and removes what was created for it.
    public func close() throws {
        guard !isClosed else { throw BPFError.closed(description) }
        isClosed = true
        if let kernelLink, kernelLink.fd.isOpen { try? kernelLink.close() }
        if perfEvent.isOpen {
            if kernelLink == nil { _ = sbpf_ioctl_int(perfEvent.rawValue, SBPF_PERF_EVENT_IOC_DISABLE, 0) }
            try? perfEvent.close()
        }
        cleanup?()
        cleanup = nil
    }

    deinit {
        if !isClosed { try? close() }
    }
}

/// How a program is hooked to a perf event.
enum PerfEventAttachMethod {
    /// A perf link when the kernel has them, else the ioctl.
    case automatic
    /// BPF_LINK_CREATE with BPF_PERF_EVENT (5.15+).
    case bpfLink
    /// `ioctl(PERF_EVENT_IOC_SET_BPF)` then `PERF_EVENT_IOC_ENABLE` (4.1+).
    case ioctl
}

/// perf_event_open(2) with the typed errors of this library.
enum PerfEvent {
    /// `PERF_FLAG_FD_CLOEXEC`.
    static let closeOnExec: UInt = 1 << 3

    static func open(_ attr: inout sbpf_perf_event_attr, pid: Int32, cpu: Int32, label: String,
                     meaning: ((Errno) -> String?)? = nil) throws -> OwnedFileDescriptor {
        attr.size = UInt32(MemoryLayout<sbpf_perf_event_attr>.size)
        while true {
            let fd = sbpf_perf_event_open(&attr, pid, cpu, -1, closeOnExec)
            if fd >= 0 { return OwnedFileDescriptor(adopting: fd, label: label) }
            let error = Errno.current
            if error == .EINTR { continue }
            let generic: String? = switch error {
            case .EACCES, .EPERM: "perf_event_open needs CAP_PERFMON (or CAP_SYS_ADMIN), or a lower /proc/sys/kernel/perf_event_paranoid"
            case .ESRCH: "no process with pid \(pid)"
            case .ENOENT, .ENODEV: "this kind of perf event is not available on this machine"
            case .EMFILE: "too many open files: perf events need one descriptor per event (and per CPU for sampling)"
            default: nil
            }
            throw BPFError.syscall(SystemCallFailure(operation: "perf_event_open", errno: error, subject: label, meaning: meaning?(error) ?? generic))
        }
    }

    /// The PMU type number of a dynamic PMU (`/sys/bus/event_source/devices/<pmu>/type`), or
    /// nil when the kernel does not have it.
    static func dynamicPMUType(_ pmu: String) -> UInt32? {
        guard let text = try? String(contentsOfFile: "/sys/bus/event_source/devices/\(pmu)/type", encoding: .utf8) else { return nil }
        return UInt32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The config bit a PMU's format file names, e.g. `format/retprobe` holding `config:0`.
    static func formatBit(pmu: String, field: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/sys/bus/event_source/devices/\(pmu)/format/\(field)", encoding: .utf8) else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("config:"), let bit = UInt64(trimmed.dropFirst(7)), bit < 64 else { return nil }
        return 1 << bit
    }
}

/// Whether BPF_LINK_CREATE accepts perf events (BPF_PERF_EVENT, kernel 5.15+): the one place
/// that decides how programs are hooked to perf events.
///
/// The answer is learned from the first real attach (a link created, or EINVAL from the link and
/// success from the ioctl) rather than from a probe program: closing a freshly attached probe
/// program waits for an RCU grace period, which cost 18–26 ms before every first uprobe.
/// `isAvailable` runs the probe only when asked before any attach has answered.
enum PerfLinkSupport {
    /// 0 unknown, 1 perf links work, 2 the kernel lacks them.
    private static let state = Atomic<UInt8>(0)

    /// Whether an attach should try a perf link first (unless the kernel was found without them).
    static var mayHaveLinks: Bool { state.load(ordering: .relaxed) != 2 }

    /// Whether a failed BPF_LINK_CREATE(BPF_PERF_EVENT) may mean the kernel lacks perf links,
    /// so the ioctl is worth trying: before 5.7 the command is unknown and before 5.15 the
    /// attach type is, and both fail with EINVAL. Once a link was created the answer is known.
    static func mayLackLinks(_ errno: Errno) -> Bool {
        errno == .EINVAL && state.load(ordering: .relaxed) == 0
    }

    static func learned(available: Bool) {
        state.store(available ? 1 : 2, ordering: .relaxed)
    }

    /// Whether perf links work, from what attaches learned or, before any, from a probe.
    static var isAvailable: Bool {
        switch state.load(ordering: .relaxed) {
        case 1: return true
        case 2: return false
        default:
            let available = probe()
            learned(available: available)
            return available
        }
    }

    /// Loads a two-instruction tracepoint program and asks for a perf link on descriptor -1:
    /// a kernel that knows perf links fails looking the event up (EBADF); one that does not
    /// rejects the attach type (EINVAL).
    static func probe() -> Bool {
        var assembler = Assembler()
        assembler.mov(.r0, 0)
        assembler.exit()
        guard let instructions = try? assembler.assemble(),
              let program = try? Program(ProgramSpec(name: "probe_perf_link", type: .tracepoint, instructions: instructions)) else {
            return true // cannot tell; the attach itself will report what is wrong
        }
        var attr = sbpf_link_create_attr()
        attr.prog_fd = UInt32(bitPattern: program.fd.rawValue)
        attr.target_fd = UInt32.max
        attr.attach_type = AttachType.perfEvent.rawValue
        switch BPFSyscall.invoke(.linkCreate, &attr) {
        case .success(let fd):
            Glibc.close(fd)
            return true
        case .failure(let errno):
            return errno == .EBADF
        }
    }
}
