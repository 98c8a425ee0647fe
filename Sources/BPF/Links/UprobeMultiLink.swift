import BPFObject
import CBPFSys
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The BPF_F_UPROBE_MULTI_RETURN flag of `link_create.uprobe_multi.flags` (include/uapi/linux/bpf.h).
private let uprobeMultiReturnFlag: UInt32 = 1

extension Program {
    /// Attaches this program to many places of one binary with a single uprobe-multi link
    /// (BPF_TRACE_UPROBE_MULTI, Linux 6.6+): one BPF_LINK_CREATE registers every uprobe, with no
    /// perf event per place, which is several times faster to set up than `attachUprobe` per place.
    ///
    /// The program must be a kprobe-type program loaded with expected attach type
    /// `.traceUprobeMulti` (libbpf's `uprobe.multi`/`uretprobe.multi` sections).
    ///
    /// - Parameters:
    ///   - binary: a path, a library name (`libc.so.6`) or a program name in `$PATH`.
    ///   - locations: the places; symbols and addresses are resolved in `binary`.
    ///   - isReturn: probe the functions' returns (uretprobes).
    ///   - processID: fire only in this process (all processes when nil).
    ///   - cookies: per place, what `bpf_get_attach_cookie()` returns (empty for none).
    ///   - referenceCounterOffsets: per place, the file offset of a USDT semaphore the kernel
    ///     increments while the probe exists (empty, or 0 for none).
    public func attachUprobeMulti(binary: String, locations: [UprobeTarget.Location], isReturn: Bool = false, processID: Int32? = nil,
                                  cookies: [UInt64] = [], referenceCounterOffsets: [UInt64] = []) throws -> KernelLink {
        let kind = isReturn ? "uretprobe.multi" : "uprobe.multi"
        let label = "\(kind) \(binary) (\(locations.count) place\(locations.count == 1 ? "" : "s"))" + (processID.map { " (pid \($0))" } ?? "")
        guard type == .kprobe, expectedAttachType == .traceUprobeMulti else {
            throw BPFError.invalidArgument("\(label) needs a kprobe-type program loaded with expected attach type trace_uprobe_multi; '\(name)' is \(type.name)\(expectedAttachType.map { " for \($0.name)" } ?? "")")
        }
        guard !locations.isEmpty else { throw BPFError.invalidArgument("\(label): no places to probe") }
        guard cookies.isEmpty || cookies.count == locations.count else {
            throw BPFError.invalidArgument("\(label): \(cookies.count) cookies for \(locations.count) places")
        }
        guard referenceCounterOffsets.isEmpty || referenceCounterOffsets.count == locations.count else {
            throw BPFError.invalidArgument("\(label): \(referenceCounterOffsets.count) reference counter offsets for \(locations.count) places")
        }
        let (path, offsets) = try UprobeTarget.resolve(binary: binary, locations: locations, processID: processID)
        let programFD = try fd.value()
        let fd: OwnedFileDescriptor = try path.withCString { cPath in
            try offsets.withUnsafeBufferPointer { offsetBuffer in
                try referenceCounterOffsets.withUnsafeBufferPointer { referenceBuffer in
                    try cookies.withUnsafeBufferPointer { cookieBuffer in
                        var attr = sbpf_link_create_attr()
                        attr.prog_fd = UInt32(bitPattern: programFD)
                        attr.attach_type = AttachType.traceUprobeMulti.rawValue
                        attr.tail.uprobe_multi.path = kernelPointer(cPath)
                        attr.tail.uprobe_multi.offsets = kernelPointer(offsetBuffer.baseAddress)
                        if !referenceCounterOffsets.isEmpty { attr.tail.uprobe_multi.ref_ctr_offsets = kernelPointer(referenceBuffer.baseAddress) }
                        if !cookies.isEmpty { attr.tail.uprobe_multi.cookies = kernelPointer(cookieBuffer.baseAddress) }
                        attr.tail.uprobe_multi.cnt = UInt32(offsets.count)
                        attr.tail.uprobe_multi.flags = isReturn ? uprobeMultiReturnFlag : 0
                        attr.tail.uprobe_multi.pid = UInt32(bitPattern: processID ?? 0)
                        return try BPFSyscall.callReturningFD(.linkCreate, &attr, label: label) { errno in
                            Self.uprobeMultiMeaning(errno, path: path)
                        }
                    }
                }
            }
        }
        UprobeMultiSupport.learnedAvailable()
        return KernelLink(fd: fd, description: label)
    }

    /// `attachUprobeMulti(binary:locations:isReturn: true, ...)`.
    public func attachUretprobeMulti(binary: String, locations: [UprobeTarget.Location], processID: Int32? = nil,
                                     cookies: [UInt64] = []) throws -> KernelLink {
        try attachUprobeMulti(binary: binary, locations: locations, isReturn: true, processID: processID, cookies: cookies)
    }

    static func uprobeMultiMeaning(_ errno: Errno, path: String) -> String? {
        switch errno {
        case .EINVAL where !UprobeMultiSupport.isAvailable, .EOPNOTSUPP:
            "this kernel has no uprobe-multi links (BPF_TRACE_UPROBE_MULTI, Linux 6.6+ with CONFIG_UPROBES); use attachUprobe per place"
        case .EINVAL: "the kernel refused a uprobe in \(path) (an offset outside the file or not on an instruction, or a reference counter offset that does not fit)"
        case .ESRCH: "no process with that pid"
        case .EPERM, .EACCES: "uprobe-multi links need CAP_PERFMON (or CAP_SYS_ADMIN) and CAP_BPF"
        default: nil
        }
    }
}

extension UprobeTarget {
    /// The path of `binary` and the file offsets of `locations` in it, reading its ELF file at
    /// most once (uprobe-multi links name one binary for all their places).
    public static func resolve(binary: String, locations: [Location], processID: Int32? = nil) throws -> (path: String, offsets: [UInt64]) {
        let path = try resolveBinary(binary, processID: processID)
        if locations.allSatisfy({ if case .fileOffset = $0 { true } else { false } }) {
            return (path, locations.map { if case .fileOffset(let offset) = $0 { offset } else { 0 } })
        }
        let file = try readSymbolTables(path)
        let offsets = try locations.map { location -> UInt64 in
            switch location {
            case .fileOffset(let offset): return offset
            case .address(let address):
                guard let offset = file.fileOffset(ofVirtualAddress: address) else {
                    throw BPFError.notFound(what: "address 0x\(String(address, radix: 16)) in \(path)", detail: "no loadable segment of the file maps it")
                }
                return offset
            case .symbol(let name, let extra):
                do {
                    guard let symbol = try file.definedSymbol(named: name) else {
                        let hasSymtab = file.sections.contains { $0.type == .symtab }
                        throw BPFError.notFound(
                            what: "symbol '\(name)' in \(path)",
                            detail: hasSymtab ? "neither .symtab nor .dynsym defines it" : "the file is stripped (no .symtab) and .dynsym does not export it")
                    }
                    return try file.fileOffset(of: symbol, plus: extra)
                } catch let error as ELFError {
                    throw BPFError.invalidArgument("\(path): \(error)")
                }
            }
        }
        return (path, offsets)
    }
}

extension UprobeTarget {
    /// The path of `binary` and the names of the functions it defines (`ELFFile.functionNames`),
    /// read from its symbol tables only: what wildcard uprobes and `-l uprobe:` expand against.
    public static func functionNames(in binary: String, processID: Int32? = nil) throws -> (path: String, names: [String]) {
        let path = try resolveBinary(binary, processID: processID)
        do {
            return (path, try readSymbolTables(path).functionNames())
        } catch let error as ELFError {
            throw BPFError.invalidArgument("\(path): \(error)")
        }
    }

    /// The file offsets of the defined functions of `binary` whose names match the shell glob
    /// `pattern` (`*`, `?`, `[...]`; a symbol version `@...` is ignored), from .symtab and
    /// .dynsym, each place once: what libbpf's `uprobe.multi/<binary>:<pattern>` sections attach to.
    public static func functionOffsets(matching pattern: String, in binary: String, processID: Int32? = nil) throws -> [UInt64] {
        let path = try resolveBinary(binary, processID: processID)
        let file = try readSymbolTables(path)
        var offsets: [UInt64] = []
        do {
            for symbol in try file.symbols() + file.dynamicSymbols()
            where symbol.isDefined && (symbol.type == .function || symbol.type == .indirectFunction) && symbol.value != 0 {
                let name = symbol.name.split(separator: "@", maxSplits: 1).first.map(String.init) ?? symbol.name
                guard Tracefs.globMatches(pattern, name) else { continue }
                let offset = try file.fileOffset(of: symbol)
                if !offsets.contains(offset) { offsets.append(offset) }
            }
        } catch let error as ELFError {
            throw BPFError.invalidArgument("\(path): \(error)")
        }
        guard !offsets.isEmpty else {
            throw BPFError.notFound(what: "functions matching '\(pattern)' in \(path)", detail: "no defined function symbol in .symtab or .dynsym matches")
        }
        return offsets
    }
}

/// Whether the kernel has uprobe-multi links (BPF_TRACE_UPROBE_MULTI, Linux 6.6+), probed once
/// and cached. Attaching code tries the link first and asks this only when the link failed,
/// to tell "unsupported, fall back to perf-event uprobes" from a real error.
public enum UprobeMultiSupport {
    /// 0 unknown, 1 available, 2 missing.
    private static let state = Atomic<UInt8>(0)

    public static var isAvailable: Bool {
        switch state.load(ordering: .relaxed) {
        case 1: return true
        case 2: return false
        default:
            let available = probe()
            state.store(available ? 1 : 2, ordering: .relaxed)
            return available
        }
    }

    /// False once the kernel was found without uprobe-multi links; true while unknown, so
    /// callers can prepare for them (load programs with `.traceUprobeMulti`) without a probe.
    public static var mayBeAvailable: Bool { state.load(ordering: .relaxed) != 2 }

    /// Whether a uprobe-multi link's pid filters a whole process. Before the fix "bpf: fix
    /// multi-uprobe PID filtering logic" (Linux 6.10, 2024) the kernel compared the running
    /// task with the pid's task, so the process's other threads were missed; perf-event uprobes
    /// are the safer choice there. Decided from the release, which is all that tells them apart
    /// without running a multi-threaded probe.
    public static var filtersWholeProcess: Bool { TracingSupport.kernelVersionCode >= 6 << 16 | 10 << 8 }

    /// Records a uprobe-multi link that was created, so later failures are real errors.
    static func learnedAvailable() { state.store(1, ordering: .relaxed) }

    /// Asks for a uprobe-multi link on the directory "/": a kernel with them loads the
    /// program and fails on the path (EBADF: not a regular file); one without them rejects
    /// the attach type (EINVAL) or has no uprobes (EOPNOTSUPP).
    static func probe() -> Bool {
        var assembler = Assembler()
        assembler.mov(.r0, 0)
        assembler.exit()
        guard let instructions = try? assembler.assemble(),
              let program = try? Program(ProgramSpec(name: "probe_upr_multi", type: .kprobe, expectedAttachType: .traceUprobeMulti,
                                                     instructions: instructions)) else {
            return false
        }
        let offsets: [UInt64] = [0]
        let result: Result<Int32, Errno> = "/".withCString { cPath in
            offsets.withUnsafeBufferPointer { offsetBuffer in
                var attr = sbpf_link_create_attr()
                attr.prog_fd = UInt32(bitPattern: program.fd.rawValue)
                attr.attach_type = AttachType.traceUprobeMulti.rawValue
                attr.tail.uprobe_multi.path = kernelPointer(cPath)
                attr.tail.uprobe_multi.offsets = kernelPointer(offsetBuffer.baseAddress)
                attr.tail.uprobe_multi.cnt = 1
                return BPFSyscall.invoke(.linkCreate, &attr)
            }
        }
        switch result {
        case .success(let fd):
            _ = Glibc.close(fd)
            return true
        case .failure(let errno):
            return errno == .EBADF
        }
    }
}
