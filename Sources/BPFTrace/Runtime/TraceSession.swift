import BPF
import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tracepoint layouts read from tracefs.
public struct TracefsFormats: TracepointFormatSource {
    public init() {}
    public func format(category: String, name: String) throws -> TracepointFormat {
        try Tracefs.format(category: category, name: name)
    }
    public func tracepoints(matching pattern: String) throws -> [(category: String, name: String)] {
        try Tracefs.tracepoints(matching: pattern)
    }
}

/// A failure to start a script, already worded for the user.
public struct TraceError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a compiled script: creates its maps, loads and attaches one program per probe, runs
/// BEGIN, formats events as they arrive, and at the end runs END and prints every map, as
/// bpftrace does. The kernel-facing part of `swiftbpf trace`; compilation is `TraceCompiler`.
public final class TraceSession {
    public struct Options {
        public var compile = TraceCompileOptions()
        /// BPFTRACE_MAP_KEYS_MAX: capacity of every map (bpftrace's default 4096).
        public var mapKeysMax = 4096
        /// Ring buffer size in bytes (a power of two, multiple of the page size). The default
        /// holds what bpftrace's default perf buffers hold (64 pages per online CPU), rounded
        /// up to a power of two: 512 KiB on 2 CPUs. A smaller ring is also quicker to create.
        public var eventBufferSize = Options.defaultEventBufferSize

        public static var defaultEventBufferSize: Int {
            let wanted = 64 * max(PossibleCPUs.online.count, 1) * Int(sysconf(Int32(_SC_PAGESIZE)))
            var size = 1 << 16
            while size < wanted && size < 1 << 30 { size <<= 1 }
            return size
        }
        /// `-p PID`: uprobes fire only in this process.
        public var processID: Int32?
        /// `-c`: the child's pid, for `cpid` (the child must wait until the probes are attached).
        public var childProcessID: Int32?
        /// `-f json`: one JSON object per event and per map.
        public var json = false
        /// `-v`: load with the verifier's statistics (BPF_LOG_STATS) so `verboseReport` can show them.
        public var verifierStatistics = false
        /// The types struct casts and member chains resolve against (default: the running
        /// kernel's BTF); tests hand in BTF of their own.
        public var kernelTypes: (() throws -> BTF)?
        public init() {}
    }

    public let script: CompiledScript
    public let source: SourceFile
    let options: Options
    let write: (String) -> Void

    private var eventRing: BPF.Map?
    private var maps: [BPF.Map] = []
    /// The stack-trace maps of `kstack`/`ustack`, by frame limit.
    private var stackMaps: [Int: BPF.Map] = [:]
    /// Events dropped because the ring buffer was full, counted by the programs.
    private var lostEvents: BPF.Map?
    /// `CallbackFunctionInfo.btf`, loaded for the first program with a callback (`len()`).
    private var callbackBTF: LoadedBTF?
    private var lostReported: UInt64 = 0
    /// Names stack frames and `ksym`/`usym` values when events and maps are printed.
    public private(set) lazy var symbols: TraceSymbolizer = {
        let symbols = TraceSymbolizer { [unowned self] limit, id in self.stackAddresses(limit: limit, id: id) }
        symbols.probeNames = script.probeNames
        return symbols
    }()
    private var programs: [(CompiledProbe, BPF.Program)] = []
    private var links: [any Link] = []
    /// The links of each watched address, for `unwatch(addr)` (they stay in `links` too; a
    /// second close of a link is harmless there).
    private var watchpointLinks: [UInt64: [any Link]] = [:]
    private var reader: RingBufferReader?
    /// Set by `attach()`; `run()` needs it.
    private var attached = false
    /// When the session began, on the clock of bpf_ktime_get_ns (CLOCK_MONOTONIC); `elapsed` counts from here.
    let startTime: UInt64 = {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }()
    /// Set when an `exit()` event arrives.
    public private(set) var exitRequested = false { didSet { droppingEvents = exitRequested } }
    /// After exit(), until END runs.
    private var droppingEvents = false

    /// Parses and compiles `text`; throws `TraceError` with bpftrace-style diagnostics.
    public init(text: String, fileName: String = "stdin", options: Options = Options(),
                formats: TracepointFormatSource = TracefsFormats(), write: @escaping (String) -> Void) throws {
        let file = SourceFile(name: fileName, text: text)
        let parsed = Parser.parse(file)
        let renderer = DiagnosticRenderer(file: file)
        guard parsed.succeeded, let program = parsed.program else {
            throw TraceError(renderer.render(parsed.diagnostics.filter { $0.severity == .error }))
        }
        do {
            var compileOptions = options.compile
            if compileOptions.kernelSymbolAddress == nil { compileOptions.kernelSymbolAddress = { KernelSymbols.address(of: $0) } }
            if compileOptions.userSymbolAddress == nil { compileOptions.userSymbolAddress = { Self.dataSymbolAddress($1, in: $0) } }
            if compileOptions.readHeader == nil {
                compileOptions.readHeader = { path in FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } }
            }
            if compileOptions.kprobesUnavailable == nil {
                compileOptions.kprobesUnavailable = { Kprobes.areAvailable ? nil : "CONFIG_KPROBES, which this kernel lacks" }
            }
            if compileOptions.userFunctionNames == nil {
                let processID = options.processID
                compileOptions.userFunctionNames = { UprobeFunctions.names(in: $0, processID: processID) }
            }
            compileOptions.processID = compileOptions.processID ?? options.processID
            script = try TraceCompiler.compile(program, formats: formats, options: compileOptions, kernelTypes: options.kernelTypes ?? { try KernelBTF.vmlinux() })
        } catch let failure as TraceCompiler.Failure {
            throw TraceError(renderer.render(failure.diagnostics))
        }
        self.source = file
        self.options = options
        self.write = write
    }

    /// `uaddr("name")`: the address of data symbol `name` in `binary` as the ELF file states it
    /// (bpftrace resolves only STT_OBJECT symbols and adds no load base).
    static func dataSymbolAddress(_ name: String, in binary: String) -> UInt64? {
        guard let path = try? UprobeTarget.resolveBinary(binary), let data = FileManager.default.contents(atPath: path),
              let file = try? ELFFile(bytes: [UInt8](data)), let symbol = try? file.definedSymbol(named: name),
              symbol.type == .object else { return nil }
        return symbol.value
    }

    /// Compiler warnings as bpftrace prints them (on stderr, before attaching).
    public var renderedWarnings: String { script.warnings.isEmpty ? "" : DiagnosticRenderer(file: source).render(script.warnings) }

    /// The number of probes `attach()` attaches (bpftrace counts each attach point).
    public var probeCount: Int { script.probes.count - skippedProbes }
    /// The kernel maps `attach()` created: the event ring buffer and the lost-event counter
    /// (only when a program sends events), the script's maps and the stack maps.
    public var kernelMaps: [BPF.Map] { [eventRing, lostEvents].compactMap { $0 } + maps + stackMaps.keys.sorted().compactMap { stackMaps[$0] } }

    /// Uprobes on symbols the binary lacks; bpftrace leaves them out silently (e.g. the libcrypto
    /// functions ssllatency.bt lists that a given OpenSSL build does not export).
    private var skippedProbes = 0

    /// Creates maps, loads every program and attaches all but BEGIN/END.
    public func attach() throws {
        let instructions = script.probes.map { $0.instructions(startTime: startTime, childProcessID: options.childProcessID) }
        let usedIndices = Self.referencedFDArrayIndices(instructions)
        // The 1 MiB ring buffer and the lost-event counter exist only for scripts whose programs
        // send something to user space (printf, print, exit, time, cat, system, join, clear...);
        // `interval:ms:10 { @ticks = count(); }` needs neither.
        var ring: BPF.Map? = nil
        if usedIndices.contains(0) {
            ring = try BPF.Map(MapSpec(name: "trace_events", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: UInt32(options.eventBufferSize)))
        }
        eventRing = ring
        let preallocate = !TracingSupport.nonPreallocatedHashMaps
        maps = try script.maps.map { map in
            var spec = map.spec(maxEntries: options.mapKeysMax)
            // bpftrace 0.17 preallocates (flags 0); elements on demand start faster and use
            // less memory when few keys are seen.
            if !preallocate, spec.type == .hash || spec.type == .percpuHash { spec.flags |= MapFlags.noPrealloc.rawValue }
            return try BPF.Map(spec)
        }
        var stackMapFDs: [Int32] = []
        for limit in script.stackMapLimits {
            // Key: u32 stack id; value: `limit` u64 addresses (kernel/bpf/stackmap.c).
            let map = try BPF.Map(MapSpec(name: "AT_stack_\(limit)", type: .stackTrace, keySize: 4, valueSize: UInt32(8 * limit), maxEntries: UInt32(options.mapKeysMax)))
            stackMaps[limit] = map
            stackMapFDs.append(map.fd.rawValue)
        }
        let lostIndex = 1 + maps.count + stackMapFDs.count
        var lost: BPF.Map? = nil
        if usedIndices.contains(Int32(lostIndex)) {
            lost = try BPF.Map(MapSpec(name: "AT_lost_events", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        }
        lostEvents = lost
        var loadOptions = ProgramLoadOptions()
        // BPF_LOG_STATS (include/linux/bpf_verifier.h): only the closing "processed N insns" lines.
        if options.verifierStatistics { loadOptions.logLevel = 4 }
        // The kernel reads only the entries the programs reference (BPF_PSEUDO_MAP_IDX); -1
        // stands for the maps not created.
        loadOptions.fdArray = [ring?.fd.rawValue ?? -1] + maps.map(\.fd.rawValue) + stackMapFDs + [lost?.fd.rawValue ?? -1]
        // Uprobes and USDT probes attach through one uprobe-multi link each (6.6+; with -p,
        // 6.10+) unless an earlier attach found the kernel without them; such programs must say
        // so at load.
        let uprobeMulti = UprobeMultiSupport.mayBeAvailable && (options.processID == nil || UprobeMultiSupport.filtersWholeProcess)
        for (probe, instructions) in zip(script.probes, instructions) {
            var spec = ProgramSpec(name: programName(probe), type: probe.programType, instructions: instructions)
            if uprobeMulti, Self.attachesUprobes(probe.attachment) { spec.expectedAttachType = .traceUprobeMulti }
            if case .kfunc(_, let btfID, let isReturn) = probe.attachment {
                spec.expectedAttachType = isReturn ? .traceFexit : .traceFentry
                spec.attachBTFID = btfID
            }
            programs.append((probe, try load(spec, probe: probe, options: loadOptions)))
        }
        if let ring { reader = try RingBufferReader(ring) { [unowned self] record in self.handle(record) } }
        attached = true
        for (index, (probe, program)) in programs.enumerated() {
            do {
                switch probe.attachment {
                case .begin, .end: break
                case .tracepoint(let category, let name):
                    links.append(try program.attachTracepoint(category: category, name: name))
                case .rawTracepoint(let name):
                    links.append(try program.attachRawTracepoint(name))
                case .interval(let nanoseconds):
                    links.append(try program.attachPerfEvent(.cpuClock, rate: .period(nanoseconds), cpus: [PossibleCPUs.online.first ?? 0]))
                case .uprobe(let binary, let function, let offset, let address, let isReturn):
                    let location: UprobeTarget.Location = function.isEmpty ? .address(address) : .symbol(function, offset: offset)
                    do {
                        try attachUprobe(programIndex: index, binary: binary, locations: [location], isReturn: isReturn,
                                         semaphores: [0], loadOptions: loadOptions)
                    } catch BPFError.notFound(let what, _) where !function.isEmpty && what.hasPrefix("symbol '") {
                        skippedProbes += 1
                    }
                case .usdt(let binary, let fileOffsets, let semaphoreOffsets):
                    try attachUprobe(programIndex: index, binary: binary, locations: fileOffsets.map { .fileOffset($0) }, isReturn: false,
                                     semaphores: semaphoreOffsets, loadOptions: loadOptions)
                case .profile(let hertz):
                    links.append(try program.attachPerfEvent(.cpuClock, rate: .frequency(hertz)))
                case .watchpoint(let address, let length, let access):
                    let watching = try program.attachWatchpoint(address: address, length: length, access: WatchpointAccess(rawValue: access),
                                                                processID: options.childProcessID ?? options.processID)
                    links += watching
                    watchpointLinks[address, default: []] += watching
                case .kprobe(let function, let offset, let isReturn):
                    links.append(try program.attachKprobe(function: function, offset: offset, isReturn: isReturn))
                case .kfunc(let function, _, _):
                    links.append(try program.attachTracing(target: function))
                case .perfEvent(let type, let config, let period):
                    let kind = PerfEventKind(type: type, config: config, name: probe.name)
                    links.append(try program.attachPerfEvent(kind, rate: .period(period)))
                }
            } catch {
                throw TraceError("ERROR: Error attaching probe: '\(probe.name)': \(error)")
            }
        }
    }

    private static func attachesUprobes(_ attachment: TraceAttachment) -> Bool {
        switch attachment {
        case .uprobe, .usdt: true
        default: false
        }
    }

    private func load(_ spec: ProgramSpec, probe: CompiledProbe, options loadOptions: ProgramLoadOptions) throws -> BPF.Program {
        do {
            guard !probe.callbackStarts.isEmpty else { return try BPF.Program(spec, options: loadOptions) }
            // A callback reference needs the program's BTF and a func_info record per subprogram.
            if callbackBTF == nil { callbackBTF = try LoadedBTF(bytes: CallbackFunctionInfo.btf, label: "BTF of trace callbacks") }
            var options = loadOptions
            options.programBTFFD = try callbackBTF!.fd.value()
            let records = CallbackFunctionInfo.records(callbackStarts: probe.callbackStarts)
            return try records.withUnsafeBytes { buffer in
                options.funcInfo = .init(address: UInt64(UInt(bitPattern: buffer.baseAddress)), recordSize: 8, count: UInt32(1 + probe.callbackStarts.count))
                return try BPF.Program(spec, options: options)
            }
        } catch BPFError.verifierRejected(let rejection) {
            throw TraceError(explain(rejection, probe: probe))
        } catch let error as BPFError where error.errno == .EPERM || error.errno == .ENOTSUPP || error.errno == .EOPNOTSUPP {
            guard case .kfunc = probe.attachment else { throw error }
            // Loading fentry/fexit needs BPF trampolines; some kernels and configurations refuse them.
            throw TraceError("ERROR: \(probe.name): the kernel refused the fentry/fexit program (\(error.errno.map { "\($0)" } ?? "")): kfunc/kretfunc probes need BPF trampolines, which this kernel does not allow; use tracepoint: or rawtracepoint: instead")
        }
    }

    /// Attaches the uprobe (or USDT) program `programs[programIndex]` at `locations` of
    /// `binary`: one uprobe-multi link for all of them when the program was loaded for it,
    /// else a perf-event uprobe per place. When the kernel turns out to lack uprobe-multi links
    /// (asked only after the link failed), the program is loaded again without the attach type
    /// and attached the old way; later scripts in this process skip the attempt.
    private func attachUprobe(programIndex: Int, binary: String, locations: [UprobeTarget.Location], isReturn: Bool,
                              semaphores: [UInt64], loadOptions: ProgramLoadOptions) throws {
        let probe = programs[programIndex].0
        var program = programs[programIndex].1
        if program.expectedAttachType == .traceUprobeMulti {
            do {
                links.append(try program.attachUprobeMulti(binary: binary, locations: locations, isReturn: isReturn, processID: options.processID,
                                                           referenceCounterOffsets: semaphores.contains { $0 != 0 } ? semaphores : []))
                return
            } catch BPFError.syscall where !UprobeMultiSupport.isAvailable {
                var spec = ProgramSpec(name: program.name, type: probe.programType,
                                       instructions: probe.instructions(startTime: startTime, childProcessID: options.childProcessID))
                spec.expectedAttachType = nil
                program = try load(spec, probe: probe, options: loadOptions)
                programs[programIndex] = (probe, program)
            }
        }
        for (location, semaphore) in zip(locations, semaphores) {
            let target = UprobeTarget(binary: binary, location: location, processID: options.processID)
            links.append(try program.attachUprobe(target, isReturn: isReturn, referenceCounterOffset: semaphore))
        }
    }

    /// The fd-array indices the programs load maps by (`lddw` with BPF_PSEUDO_MAP_IDX or
    /// BPF_PSEUDO_MAP_IDX_VALUE in the source register field).
    static func referencedFDArrayIndices(_ programs: [[Instruction]]) -> [Int32] {
        // An array, not a Set: a handful of indices, and no Set<Int32> metadata to instantiate
        // at start-up.
        var indices: [Int32] = []
        for instructions in programs {
            // 0x18 is lddw (BPF_LD | BPF_IMM | BPF_DW); its second slot has opcode 0.
            for instruction in instructions where instruction.opcode == 0x18
                && (instruction.src == PseudoSource.mapIndex.rawValue || instruction.src == PseudoSource.mapIndexValue.rawValue)
                && !indices.contains(instruction.immediate) {
                indices.append(instruction.immediate)
            }
        }
        return indices
    }

    /// `-v`, in bpftrace 0.17's shape: for each loaded program its id and the verifier's
    /// statistics, then the probe it attaches.
    public var verboseReport: String {
        var out = ""
        for (probe, program) in programs {
            let id = (try? program.info().id).map(String.init) ?? "?"
            // bpftrace shows the statistics line; newer kernels add timing and stack depth lines.
            let log = (program.verifierLog ?? "").split(separator: "\n").filter { $0.hasPrefix("processed ") }.joined(separator: "\n")
            out += "\nProgram ID: \(id)\n\nThe verifier log: \n\(log)\n\nAttaching \(probe.name)\n"
        }
        return out
    }

    func programName(_ probe: CompiledProbe) -> String {
        let cleaned = probe.name.map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return String(String(cleaned).prefix(15))
    }

    /// The verifier's words, and the statement whose code it stopped at.
    func explain(_ rejection: VerifierRejection, probe: CompiledProbe) -> String {
        Self.explain(rejection, probe: probe, source: source)
    }

    public static func explain(_ rejection: VerifierRejection, probe: CompiledProbe, source: SourceFile) -> String {
        var out = "ERROR: the kernel verifier rejected the program for \(probe.name) (\(rejection.errno))\n"
        if let index = rejection.failingInstruction, index < probe.sourceRanges.count, let range = probe.sourceRanges[index] {
            out += DiagnosticRenderer(file: source).render(.error("the verifier stopped in this statement (instruction \(index))", at: range))
        }
        let tail = rejection.log.split(separator: "\n").suffix(8).joined(separator: "\n")
        return out + tail + "\n"
    }

    /// Runs BEGIN, then processes events until `exit()` or `shouldStop` returns true (checked at
    /// least every 100 ms), then runs END and prints all maps.
    public func run(shouldStop: () -> Bool = { false }) throws {
        guard attached else { throw TraceError("ERROR: attach() was not called") }
        for (probe, program) in programs where probe.attachment == .begin {
            _ = try program.testRun()
        }
        _ = try reader?.consumeAvailable()
        while !exitRequested && !shouldStop() {
            if let reader {
                _ = try reader.poll(timeout: .milliseconds(100))
            } else {
                // Nothing can arrive (no program sends events): only wait for the stop request.
                _ = poll(nil, 0, 100)
            }
            reportLostEvents()
        }
        reportLostEvents()
        for link in links { try? link.close() }
        links.removeAll()
        _ = try reader?.consumeAvailable()
        droppingEvents = false
        for (probe, program) in programs where probe.attachment == .end {
            _ = try program.testRun()
        }
        _ = try reader?.consumeAvailable()
        write("\n\n")
        for index in script.maps.indices.sorted(by: { script.maps[$0].name < script.maps[$1].name }) {
            write(try renderMap(index))
        }
    }

    /// Current elements of a script map, rendered as bpftrace prints them.
    public func renderMap(_ index: Int) throws -> String {
        let elements = try elements(of: index)
        if options.json { return JSONOutput.render(script.maps[index], elements: elements, symbols: symbols) }
        return MapPrinter.render(script.maps[index], elements: elements, symbols: symbols)
    }

    /// bpftrace's "Lost N events" line for drops since the last report.
    func reportLostEvents() {
        guard let lostEvents, let value = try? lostEvents.lookup([0, 0, 0, 0]), value.count == 8 else { return }
        let total = value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        guard total > lostReported else { return }
        write("Lost \(total - lostReported) events\n")
        lostReported = total
    }

    /// The addresses of stack `id` (until the first zero), or none when the id is unknown.
    func stackAddresses(limit: Int, id: UInt32) -> [UInt64] {
        guard let map = stackMaps[limit], let value = try? map.lookup(withUnsafeBytes(of: id) { [UInt8]($0) }) else { return [] }
        return value.withUnsafeBytes { bytes in
            (0..<(bytes.count / 8)).lazy.map { bytes.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }.prefix { $0 != 0 }.map { $0 }
        }
    }

    /// Raw elements of a script map.
    public func elements(of index: Int) throws -> [(key: [UInt8], value: [UInt8])] {
        let map = maps[index]
        var result: [(key: [UInt8], value: [UInt8])] = []
        var key: [UInt8]? = nil
        let scriptMap = script.maps[index]
        while let next = try map.nextKey(after: key) {
            if let value = try map.lookup(next) { result.append((next, scriptMap.isPerCPU ? Self.mergeCPUs(value, kind: scriptMap.kind) : value)) }
            key = next
        }
        return result
    }

    /// The integer value stored in a map under no key (a convenience for tests and tools).
    public func value(ofMap name: String) throws -> UInt64? {
        guard let index = script.maps.firstIndex(where: { $0.name == name }) else { return nil }
        guard let element = try elements(of: index).first else { return nil }
        return element.value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    func handle(_ record: UnsafeRawBufferPointer) {
        guard record.count >= 8 else { return }
        let id = record.loadUnaligned(as: UInt64.self)
        let argument = record.count >= 16 ? record.loadUnaligned(fromByteOffset: 8, as: UInt64.self) : 0
        // bpftrace stops handling events at exit(); later ones still in the buffer are dropped
        // (END's own output is handled again).
        guard !droppingEvents else { return }
        switch id {
        case TraceEventID.exit:
            exitRequested = true
        case TraceEventID.printMap:
            // Payload: map index, then (when given) top and divisor.
            let top = record.count >= 24 ? Int(truncatingIfNeeded: record.loadUnaligned(fromByteOffset: 16, as: UInt64.self)) : 0
            let divisor = record.count >= 32 ? record.loadUnaligned(fromByteOffset: 24, as: UInt64.self) : 1
            if top == 0 && divisor <= 1 {
                if let text = try? renderMap(Int(argument)) { write(text) }
            } else if Int(argument) < maps.count, let elements = try? elements(of: Int(argument)) {
                let map = script.maps[Int(argument)]
                write(options.json ? JSONOutput.render(map, elements: elements, top: top, divisor: divisor, symbols: symbols)
                      : MapPrinter.render(map, elements: elements, top: top, divisor: max(divisor, 1), symbols: symbols))
            }
        case TraceEventID.clearMap, TraceEventID.zeroMap:
            guard Int(argument) < maps.count, let elements = try? elements(of: Int(argument)) else { return }
            for element in elements {
                if id == TraceEventID.clearMap {
                    _ = try? maps[Int(argument)].delete(element.key)
                } else {
                    try? maps[Int(argument)].update(element.key, [UInt8](repeating: 0, count: maps[Int(argument)].valueBufferSize))
                }
            }
        case TraceEventID.unwatch:
            // Events the watchpoint raised before this one was handled still count, as in
            // bpftrace (its detach is asynchronous too).
            for link in watchpointLinks.removeValue(forKey: argument) ?? [] { try? link.close() }
        case TraceEventID.join:
            guard Int(argument) < script.formats.count, record.count >= 24 else { return }
            let separator = script.formats[Int(argument)].format
            let strings = min(Int(record.loadUnaligned(fromByteOffset: 16, as: UInt64.self)), TraceEventID.joinArguments)
            var parts: [String] = []
            for index in 0..<strings {
                let start = 24 + index * TraceEventID.joinArgumentSize
                guard start + TraceEventID.joinArgumentSize <= record.count else { break }
                let bytes = UnsafeRawBufferPointer(rebasing: record[start..<(start + TraceEventID.joinArgumentSize)])
                // bpftrace stops at the first empty string (argv's NULL reads as one).
                guard bytes.first != 0 else { break }
                parts.append(String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
            }
            let joined = parts.joined(separator: separator)
            write(options.json ? JSONOutput.event("join", JSONOutput.string(joined)) : joined + "\n")
        case TraceEventID.time:
            guard Int(argument) < script.formats.count else { return }
            let text = Self.formatTime(script.formats[Int(argument)].format)
            write(options.json ? JSONOutput.event("time", JSONOutput.string(text)) : text)
        default:
            guard id < UInt64(script.formats.count) else { return }
            let format = script.formats[Int(id)]
            var offset = 8
            var values: [TraceValue] = []
            for type in format.argumentTypes {
                values.append(TraceValue.decode(type, record, at: offset, symbols: symbols))
                offset += type.storageSize
            }
            let text = PrintfFormat.render(format.format, values)
            switch format.action {
            case .print:
                write(options.json ? JSONOutput.event("printf", JSONOutput.string(text)) : text)
            case .value:
                // print(value): the value alone on its line; formats carry its one type.
                guard let type = format.argumentTypes.first, let value = values.first else { return }
                write(options.json ? JSONOutput.event("value", JSONOutput.value(type, record, at: 8, symbols: symbols)) : value.text + "\n")
            case .system:
                // bpftrace's JSON names system()'s output "syscall".
                let output = Self.runShell(text)
                write(options.json ? JSONOutput.event("syscall", JSONOutput.string(output)) : output)
            case .cat:
                if let contents = FileManager.default.contents(atPath: text) {
                    let output = String(decoding: contents, as: UTF8.self)
                    write(options.json ? JSONOutput.event("cat", JSONOutput.string(output)) : output)
                } else {
                    // bpftrace reports this on stderr; JSON output still gets an empty `cat` event.
                    FileHandle.standardError.write(Data("ERROR: failed to open file '\(text)': \(String(cString: strerror(errno)))\n".utf8))
                    if options.json { write(JSONOutput.event("cat", JSONOutput.string(""))) }
                }
            }
        }
    }

    /// system(): the command runs under /bin/sh while events wait, as in bpftrace; its standard
    /// output is returned so it lands in the trace output (and `-o` file) in order.
    static func runShell(_ command: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch { return "ERROR: system(): \(error)\n" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func formatTime(_ format: String) -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [Int8](repeating: 0, count: 256)
        let count = strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Detaches everything and closes the maps.
    public func close() {
        for link in links { try? link.close() }
        links.removeAll()
        reader?.close()
        reader = nil
        programs.removeAll()
        maps.removeAll()
        stackMaps.removeAll()
        lostEvents = nil
        eventRing = nil
    }

    deinit { close() }
}
