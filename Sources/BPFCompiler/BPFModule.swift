import BPF
import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// BCC's workflow in Swift: C source text compiled at run time with the toolchain's clang,
/// loaded by SwiftBPF's object loader, attached by name or naming convention, and read through
/// trace_pipe, maps by name, and perf/ring buffers.
///
/// ```swift
/// let module = try BPFModule(source: """
///     int tracepoint__syscalls__sys_enter_execve(void *ctx) {
///         bpf_trace_printk("exec\\n");
///         return 0;
///     }
///     """)
/// try module.autoAttach()
/// try module.tracePrint()
/// ```
///
/// The source is compiled with `-target bpf -g -O2 -D__TARGET_ARCH_<arch>` and, included
/// before it, `vmlinux.h` (from the running kernel's BTF), `bpf/bpf_helpers.h`,
/// `bpf/bpf_tracing.h`, `bpf/bpf_core_read.h` and `bpf/bcc_compat.h` (BCC's map macros —
/// `BPF_HASH`, `BPF_ARRAY`, `BPF_PERF_OUTPUT`, ... — and `TRACEPOINT_PROBE`). Functions need no
/// `SEC()`: a function's program type comes from its name (`tracepoint__cat__event`,
/// `raw_tracepoint__event`, `kprobe__fn`, `kretprobe__fn`, loaded at once) or from the attach
/// call that names it (loaded then, like BCC's `load_func`). `SEC()` programs work too.
/// BCC's method syntax (`table.lookup(&k)`) needs BCC's rewriter and is not supported: call
/// `bpf_map_lookup_elem(&table, &k)`.
///
/// Everything the module made (programs, maps, links, trace instance, buffers) is released
/// with it or by `close()`.
public final class BPFModule: @unchecked Sendable {
    /// The loaded object: maps by name, programs loaded at init.
    public let object: LoadedObject
    /// The compiled ELF object.
    public let objectBytes: [UInt8]
    /// The name compile errors and line info use for the source text.
    public let sourceName: String
    /// What clang printed while compiling successfully (warnings), empty if nothing.
    public let compilerWarnings: String
    /// The global functions of the source (the ones attach calls can name).
    public let functions: [String]

    let objectName: String
    let lock = NSLock()
    var lateLoaded: [String: Program] = [:]
    var links: [any Link] = []
    var traceReader: TraceReader?
    var perfBuffers: [(name: String, buffer: PerfBuffer)] = []
    var ringReader: RingBufferReader?
    var ringNames: [String] = []
    var closed = false

    /// Options for compiling and loading.
    public struct Options: Sendable {
        /// The name under which the source appears in diagnostics and line info.
        public var sourceName = "bpf_module.c"
        /// The object name (it prefixes internal map names such as `<name>.rodata`).
        public var objectName = "bcc"
        /// A clang to use instead of the located one.
        public var clangPath: String?
        /// The cache directory for headers and vmlinux.h (default: `CompilerCache.directory()`).
        public var cacheDirectory: String?
        public var load = ObjectLoadOptions()
        public init() {}
    }

    /// Compiles `source`, then creates its maps and loads the functions whose names say their
    /// program type. Throws `BPFCompileError` for C errors (with clang's `file:line:col`),
    /// `BPFError.verifierRejected` with the log and C source line for programs the verifier
    /// refuses, `BPFError.notFound` when no clang with the BPF target is found.
    public convenience init(source: String, cflags: [String] = []) throws {
        try self.init(source: source, cflags: cflags, options: Options())
    }

    public init(source: String, cflags: [String] = [], options: Options) throws {
        sourceName = options.sourceName
        objectName = options.objectName
        let compiled = try BPFModule.compile(source: source, cflags: cflags, options: options)
        objectBytes = compiled.object
        compilerWarnings = compiled.warnings
        do {
            functions = try ObjectSpec.textFunctions(elf: objectBytes)
            var spec = try ObjectSpec(elf: objectBytes, name: options.objectName,
                                      textEntryPoints: Self.conventionalSections(for: functions))
            Self.defaultLicense(&spec)
            object = try ObjectLoader(spec: spec, options: options.load).load()
        } catch let error as ObjectError {
            throw BPFError.invalidArgument("the object compiled from \(options.sourceName) cannot be read: \(error)")
        }
    }

    deinit { close() }

    /// Detaches every link, stops every reader and releases the programs this module loaded
    /// later. Maps and init-time programs go with the module (or `object`).
    public func close() {
        lock.lock()
        let (links, trace, ring, perf) = (self.links, traceReader, ringReader, perfBuffers)
        self.links = []
        traceReader = nil
        ringReader = nil
        perfBuffers = []
        lateLoaded = [:]
        closed = true
        lock.unlock()
        for link in links.reversed() { try? link.close() }
        trace?.close()
        ring?.close()
        for (_, buffer) in perf { buffer.close() }
    }

    // MARK: Compiling

    /// The section each conventionally named function is loaded as (BCC's auto-load names).
    static func conventionalSections(for functions: [String]) -> [String: String] {
        var sections: [String: String] = [:]
        for function in functions {
            if let rest = function.dropPrefix("tracepoint__"), let separator = rest.range(of: "__") {
                sections[function] = "tracepoint/\(rest[..<separator.lowerBound])/\(rest[separator.upperBound...])"
            } else if let event = function.dropPrefix("raw_tracepoint__"), !event.isEmpty {
                sections[function] = "raw_tracepoint/\(event)"
            } else if let target = function.dropPrefix("kprobe__"), !target.isEmpty {
                sections[function] = "kprobe/\(target)"
            } else if let target = function.dropPrefix("kretprobe__"), !target.isEmpty {
                sections[function] = "kretprobe/\(target)"
            }
        }
        return sections
    }

    /// BCC loads everything as GPL; a source without a `license` section means that here too
    /// (bpf_trace_printk and most tracing helpers are GPL-only).
    static func defaultLicense(_ spec: inout ObjectSpec) {
        guard spec.license.isEmpty else { return }
        spec.license = "GPL"
        for index in spec.programs.indices { spec.programs[index].spec.license = "GPL" }
    }

    /// The `-D__TARGET_ARCH_*` value bpf_tracing.h expects for this machine.
    static var targetArchitecture: String {
        #if arch(x86_64)
        "x86"
        #elseif arch(arm64)
        "arm64"
        #elseif arch(s390x)
        "s390"
        #elseif arch(powerpc64le)
        "powerpc"
        #else
        "riscv"
        #endif
    }

    static func compile(source: String, cflags: [String], options: Options) throws -> (object: [UInt8], warnings: String) {
        let clang = try options.clangPath ?? ClangLocator.locate()
        let cache = options.cacheDirectory ?? CompilerCache.directory()
        let include = try CompilerCache.headerDirectory(in: cache)
        let vmlinux = try CompilerCache.vmlinuxDirectory(in: cache)
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }

        // Structs for TRACEPOINT_PROBE / tracepoint__ functions, from tracefs formats.
        var tracepointStructs = ["/* generated by BPFModule from tracefs formats */"]
        for (category, event) in TracepointProbeStructs.referencedTracepoints(in: source) {
            guard let format = try? Tracefs.format(category: category, name: event) else { continue }
            tracepointStructs.append(TracepointProbeStructs.declaration(category: category, event: event, format: format))
        }
        try CompilerCache.writeAtomically(tracepointStructs.joined(separator: "\n") + "\n", to: work + "/bcc_tracepoints.h")
        guard !options.sourceName.contains("/") else {
            throw BPFError.invalidArgument("sourceName '\(options.sourceName)' must be a file name, not a path")
        }
        try CompilerCache.writeAtomically(source, to: work + "/" + options.sourceName)

        let arguments = ["-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_\(targetArchitecture)",
                         "-fno-color-diagnostics", "-I", include, "-I", vmlinux, "-I", work,
                         "-include", "vmlinux.h", "-include", "bpf/bpf_helpers.h", "-include", "bpf/bpf_tracing.h",
                         "-include", "bpf/bpf_core_read.h", "-include", "bpf/bcc_compat.h", "-include", "bcc_tracepoints.h"]
            + cflags + ["-c", options.sourceName, "-o", "module.bpf.o"]
        // Run in the work directory with a relative source path, so diagnostics say
        // `bpf_module.c:LINE:COL` rather than a temporary path.
        let run = try CompilerProcess.run(clang, arguments, directory: work)
        guard run.status == 0 else {
            throw BPFCompileError(sourceName: options.sourceName, diagnostics: run.errors + run.output)
        }
        guard let bytes = FileManager.default.contents(atPath: work + "/module.bpf.o") else {
            throw BPFError.notFound(what: "compiled object", detail: "\(clang) exited 0 but wrote no object")
        }
        return ([UInt8](bytes), run.errors)
    }

    static func temporaryDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "swiftbpf-module-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BPFError.syscall(SystemCallFailure(operation: "mkdtemp", errno: Errno.current, subject: NSTemporaryDirectory()))
        }
        return String(cString: made)
    }

    // MARK: Programs

    /// The program for `function` loaded as a program of `section` (`tracepoint`,
    /// `raw_tracepoint`, `kprobe`, `uprobe`, `xdp`, `socket`, `tc`, `perf_event`, ...): the
    /// init-time one when its type fits, else loaded now (once per function and section kind).
    public func loadFunction(_ function: String, section: String) throws -> Program {
        guard let definition = SectionDefinition.matching(section) else {
            throw BPFError.invalidArgument("'\(section)' is not a known program section; known: \(SectionDefinition.knownPatterns.joined(separator: ", "))")
        }
        if let program = object.programs[function], program.type == definition.programType { return program }
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw BPFError.closed("BPF module") }
        let key = "\(function)@\(definition.pattern)"
        if let program = lateLoaded[key] { return program }
        guard functions.contains(function) else {
            let named = functions.isEmpty ? "none" : functions.joined(separator: ", ")
            throw BPFError.notFound(what: "function '\(function)'", detail: "the source's global functions are: \(named) (static functions cannot be loaded)")
        }
        var spec: ObjectSpec
        do { spec = try ObjectSpec(elf: objectBytes, name: objectName, textEntryPoints: [function: section]) }
        catch { throw BPFError.invalidArgument("the object compiled from \(sourceName) cannot be read: \(error)") }
        Self.defaultLicense(&spec)
        guard let programSpec = spec.program(named: function) else {
            throw BPFError.notFound(what: "function '\(function)'", detail: "not found in the compiled object")
        }
        let program = try object.loadLateProgram(programSpec)
        lateLoaded[key] = program
        return program
    }

    /// `loadFunction(_:section:)` for the common program types.
    public func loadFunction(_ function: String, type: ProgramType) throws -> Program {
        let section = switch type {
        case .tracepoint: "tracepoint"
        case .rawTracepoint: "raw_tracepoint"
        case .rawTracepointWritable: "raw_tracepoint.w"
        case .kprobe: "kprobe"
        case .xdp: "xdp"
        case .socketFilter: "socket"
        case .schedCls: "tc"
        case .perfEvent: "perf_event"
        case .cgroupSkb: "cgroup_skb/ingress"
        default: ""
        }
        guard !section.isEmpty else {
            throw BPFError.unsupported(feature: "loading a function as \(type.name)", detail: "name the section explicitly with loadFunction(_:section:)")
        }
        return try loadFunction(function, section: section)
    }

    /// Keeps `link` until the module closes, and returns it.
    func keep<L: Link>(_ link: L) throws -> L {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else {
            try? link.close()
            throw BPFError.closed("BPF module")
        }
        links.append(link)
        return link
    }

    /// Detaches every link the module made so far (programs and maps stay).
    public func detachAll() {
        lock.lock()
        let links = self.links
        self.links = []
        lock.unlock()
        for link in links.reversed() { try? link.close() }
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}
