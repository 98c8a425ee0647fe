import BPF
import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc // fnmatch
#elseif canImport(Musl)
import Musl
#endif

/// The `usdt:` probe provider: finds the <sys/sdt.h> probes of a binary (its `.note.stapsdt`),
/// expands wildcards over them and reads `arg0`...`argN` as each probe's argument specs say.
///
/// Argument reads are generated from the specs at compile time, one program per probe site (the
/// same probe inlined in several places may keep its arguments in different places), so no
/// spec map or BPF cookie is needed.
public enum USDTProbes {
    /// One binary's probes, read once.
    struct Binary {
        var path: String
        var file: ELFFile
        var architecture: USDTArchitecture
        var notes: [USDTNote]
    }

    /// Why a `usdt:` target cannot be used; `message` is what bpftrace would say.
    struct Problem: Error { var message: String }

    /// The binary a `usdt:` target names: a path, a library or executable name (searched like
    /// uprobes), or — with no target and `-p PID` — the process's executable.
    static func binary(_ target: String, processID: Int32?) throws(Problem) -> Binary {
        let path: String
        do {
            if target.isEmpty {
                guard let processID else { throw Problem(message: "usdt probe needs a binary or library path, or -p PID") }
                path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(processID)/exe")
            } else {
                path = try UprobeTarget.resolveBinary(target, processID: processID)
            }
        } catch let problem as Problem {
            throw problem
        } catch {
            throw Problem(message: "usdt target file '\(target.isEmpty ? "/proc/\(processID ?? 0)/exe" : target)' does not exist or is not executable")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(message: "usdt target file '\(path)' does not exist or is not executable")
        }
        let file: ELFFile
        do { file = try ELFFile(bytes: [UInt8](data)) } catch {
            throw Problem(message: "usdt target file '\(path)' is not an ELF file: \(error)")
        }
        guard let architecture = USDTArchitecture(machine: file.header.machine), architecture == USDTArchitecture.host else {
            throw Problem(message: "usdt target file '\(path)' is not for this machine's architecture (ELF machine \(file.header.machine))")
        }
        do {
            return Binary(path: path, file: file, architecture: architecture, notes: try file.usdtNotes())
        } catch {
            throw Problem(message: "\(path): \(error)")
        }
    }

    /// Distinct `provider:name` pairs of `binary` matching the glob patterns (an empty provider
    /// pattern matches any provider), sorted like bpftrace lists them.
    static func matching(_ binary: Binary, provider: String, name: String) -> [(provider: String, name: String)] {
        var seen = Set<String>()
        var result: [(provider: String, name: String)] = []
        for note in binary.notes where (provider.isEmpty || globMatches(provider, note.provider)) && globMatches(name, note.name) {
            if seen.insert(note.provider + ":" + note.name).inserted { result.append((note.provider, note.name)) }
        }
        return result.sorted { ($0.provider, $0.name) < ($1.provider, $1.name) }
    }

    static func globMatches(_ pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text, 0) == 0
    }

    /// `-l usdt:PATH:[PROVIDER:]NAME`: the matching probes as `usdt:PATH:PROVIDER:NAME` lines.
    /// Throws `TraceError` with bpftrace's wording for a malformed pattern or unusable binary.
    public static func list(_ pattern: String, processID: Int32? = nil) throws -> [String] {
        let point = AttachPoint(raw: pattern, range: SourceRange(at: .start))
        guard point.provider == "usdt", point.problem == nil else {
            throw TraceError("ERROR: \(point.problem ?? "'\(pattern)' is not a usdt probe pattern")\n")
        }
        guard !point.target.isEmpty || processID != nil, !point.function.isEmpty else {
            throw TraceError("ERROR: usdt probe type requires 2 or 3 arguments\n")
        }
        let found: Binary
        do { found = try binary(point.target, processID: processID) } catch {
            throw TraceError("ERROR: \(error.message)\n")
        }
        return matching(found, provider: point.namespace, name: point.function).map { "usdt:\(found.path):\($0.provider):\($0.name)" }
    }
}

extension TraceCompiler {
    /// A `usdt:` attach point resolved against its binary: one point per site of each matching
    /// probe. A wildcard matching nothing yields nothing, as in bpftrace.
    mutating func resolveUSDT(_ point: AttachPoint) -> [(AttachPoint, TraceAttachment, ProbeContext)] {
        if let problem = point.problem {
            diagnostics.error(problem, at: point.reportRange)
            return []
        }
        let binary: USDTProbes.Binary
        do { binary = try USDTProbes.binary(point.target, processID: options.processID) } catch {
            diagnostics.error(error.message, at: point.reportRange)
            return []
        }
        let probes = USDTProbes.matching(binary, provider: point.namespace, name: point.function)
        if probes.isEmpty && !point.needsExpansion {
            let wanted = point.namespace.isEmpty ? point.function : "\(point.namespace):\(point.function)"
            diagnostics.error("usdt probe '\(wanted)' not found in \(binary.path)", at: point.reportRange)
            return []
        }
        var resolved: [(AttachPoint, TraceAttachment, ProbeContext)] = []
        for probe in probes {
            let sites: [USDTProbeSite]
            do { sites = try binary.file.usdtProbeSites(provider: probe.provider, name: probe.name) } catch {
                diagnostics.error("\(binary.path): \(error)", at: point.reportRange)
                continue
            }
            var concrete = point
            concrete.target = binary.path
            concrete.namespace = probe.provider
            concrete.function = probe.name
            concrete.raw = "usdt:\(binary.path):\(probe.provider):\(probe.name)"
            // One program per site, as bpftrace (and its "Attaching N probes" count): sites of
            // one probe (inlined copies) may place the arguments differently.
            for site in sites {
                let arguments: [USDTArgument]
                do { arguments = try USDTArgument.parseList(site.note.arguments, architecture: binary.architecture) } catch {
                    diagnostics.error("usdt probe \(probe.provider):\(probe.name) in \(binary.path): \(error)", at: point.reportRange)
                    continue
                }
                let attachment = TraceAttachment.usdt(binary: binary.path, fileOffsets: [site.fileOffset],
                                                      semaphoreOffsets: [site.semaphoreFileOffset])
                let context = ProbeContext(programType: .kprobe, probeName: concrete.name,
                                           arguments: .usdt(arguments, probe: "\(binary.path):\(probe.provider):\(probe.name)"))
                resolved.append((concrete, attachment, context))
            }
        }
        return resolved
    }
}

extension ProbeGenerator {
    /// Loads one USDT argument into r0 as its spec says — a constant, a saved register, or user
    /// memory at register (+ index × scale) + offset — then truncates it to its size and
    /// sign- or zero-extends it to 64 bits. r9 holds the uprobe's `struct pt_regs`; a failed
    /// memory read yields 0.
    mutating func usdtArgument(_ argument: USDTArgument) throws {
        switch argument.location {
        case .constant(let value):
            asm.loadImmediate64(.r0, UInt64(bitPattern: value))
        case .register(let register):
            asm.load(.doubleWord, .r0, .r9, Int16(register.ptRegsOffset))
        case .memory(let base, let offset):
            asm.load(.doubleWord, .r3, .r9, Int16(base.ptRegsOffset))
            try readUser(size: argument.size, addressIn: .r3, plus: offset)
        case .indexed(let base, let index, let scale, let offset):
            asm.load(.doubleWord, .r3, .r9, Int16(base.ptRegsOffset))
            asm.load(.doubleWord, .r1, .r9, Int16(index.ptRegsOffset))
            if scale > 1 { asm.alu(.mul, .r1, Int32(scale)) }
            asm.add(.r3, .r1)
            try readUser(size: argument.size, addressIn: .r3, plus: offset)
        }
        if argument.size < 8 {
            let unused = Int32(64 - 8 * argument.size)
            asm.alu(.lsh, .r0, unused)
            asm.alu(argument.isSigned ? .arsh : .rsh, .r0, unused)
        }
    }

    /// r0 = `size` bytes of user memory at `register` + `offset` (0 when unreadable).
    private mutating func readUser(size: Int, addressIn register: Register, plus offset: Int64) throws {
        if offset != 0 {
            if let small = Int32(exactly: offset) {
                asm.add(register, small)
            } else {
                asm.loadImmediate64(.r1, UInt64(bitPattern: offset))
                asm.add(register, .r1)
            }
        }
        let value = try slot(8)
        asm.store(.doubleWord, .r10, value, immediate: 0)
        if register != .r3 { asm.mov(.r3, register) }
        asm.mov(.r1, .r10)
        asm.add(.r1, Int32(value))
        asm.mov(.r2, Int32(size))
        asm.call(helperID: HelperFunction.probeReadUser.rawValue)
        asm.load(.doubleWord, .r0, .r10, value)
    }
}
