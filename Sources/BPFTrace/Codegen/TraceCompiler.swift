import BPFObject
import Foundation

/// Compiles a parsed script to BPF instructions, one program per attach point, plus the specs of
/// the maps they use. Pure: tracepoint layouts come from a `TracepointFormatSource`, map
/// references are `lddw rX, map_idx` (BPF_PSEUDO_MAP_IDX) into an fd array the loader fills.
///
/// The pass first walks every probe to infer map types (a map may be read in one probe and
/// assigned in another), then generates code. Registers: r9 keeps the context; expression
/// results land in r0; every temporary lives in its own stack slot, so helper calls (which
/// clobber r1-r5) never lose a value and nothing needs spilling.
public struct TraceCompiler {
    public let program: Program
    public let options: TraceCompileOptions
    let formats: TracepointFormatSource

    var maps: [TraceMap] = []
    var mapIndex: [String: Int] = [:]
    var printFormats: [TraceFormat] = []
    /// Names of the attach points, indexed by the values of `probe`.
    var probeNames: [String] = []
    var diagnostics = DiagnosticList()
    var loopDepth = 0
    /// Frame limits of the stack-trace maps `kstack`/`ustack` need (one map per limit).
    var stackMapLimits: [Int] = []

    /// Kernel types for `curtask->...`; loaded only when a script uses them.
    let kernelTypes: (() throws -> BTF)?
    /// Kernel enum constants by name, for identifiers such as `BPF_MAP_TYPE_HASH`.
    let enumConstants = EnumConstantTable()
    /// `#define` constants of the script and the headers it includes, read on first use.
    var headerMacros: HeaderMacros?

    public init(program: Program, formats: TracepointFormatSource, options: TraceCompileOptions = TraceCompileOptions(),
                kernelTypes: (() throws -> BTF)? = nil) {
        self.program = program
        self.formats = formats
        self.options = options
        self.kernelTypes = kernelTypes
    }

    public struct Failure: Error, CustomStringConvertible {
        public var diagnostics: [Diagnostic]
        public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
    }

    /// Compiles the script or throws `Failure` with bpftrace-style diagnostics.
    public static func compile(_ program: Program, formats: TracepointFormatSource, options: TraceCompileOptions = TraceCompileOptions(),
                               kernelTypes: (() throws -> BTF)? = nil) throws -> CompiledScript {
        var compiler = TraceCompiler(program: program, formats: formats, options: options, kernelTypes: kernelTypes)
        return try compiler.compile()
    }

    public mutating func compile() throws -> CompiledScript {
        // Resolve attach points first: unknown probes are errors before anything else.
        var resolved: [(Probe, [(AttachPoint, TraceAttachment, ProbeContext)])] = []
        for probe in program.probes {
            var points: [(AttachPoint, TraceAttachment, ProbeContext)] = []
            for point in probe.attachPoints {
                for concrete in expand(point) {
                    if concrete.provider == "usdt" { points += resolveUSDT(concrete); continue }
                    if let resolvedPoint = resolve(concrete) { points.append(resolvedPoint) }
                }
            }
            resolved.append((probe, points.map { var point = $0; point.2.providerName = point.0.provider; return point }))
        }
        guard !diagnostics.hasErrors else { throw Failure(diagnostics: diagnostics.errors) }

        // Pass 1: infer map types over every probe.
        for (probe, points) in resolved {
            guard var context = points.first?.2 else { continue }
            context.function = points.compactMap(\.2.function).max { $0.utf8.count < $1.utf8.count }
            var scope = Scope(context: context)
            if let predicate = probe.predicate { _ = inferType(predicate, &scope) }
            inferBlock(probe.body, &scope)
        }
        guard !diagnostics.hasErrors else { throw Failure(diagnostics: diagnostics.errors) }

        // `probe` values are indices into this table (the runtime prints the names).
        for (_, points) in resolved {
            for point in points where !probeNames.contains(point.2.probeName) { probeNames.append(point.2.probeName) }
        }

        // Pass 2: generate one program per attach point.
        var compiled: [CompiledProbe] = []
        for (probe, points) in resolved {
            for (point, attachment, context) in points {
                var generator = ProbeGenerator(compiler: self, context: context)
                let instructions = try generator.generate(probe)
                printFormats = generator.compilerFormats
                compiled.append(CompiledProbe(name: point.name, attachment: attachment, programType: context.programType,
                                              instructions: instructions.0, sourceRanges: instructions.1,
                                              startTimeSlots: generator.startTimeSlots, childProcessSlots: generator.childProcessSlots))
                compiled[compiled.count - 1].callbackStarts = generator.callbackStarts
            }
        }
        guard !diagnostics.hasErrors else { throw Failure(diagnostics: diagnostics.errors) }
        var seen = Set<Diagnostic>()
        let warnings = diagnostics.warnings.filter { seen.insert($0).inserted }
        var script = CompiledScript(probes: compiled, maps: maps, formats: printFormats, warnings: warnings, stackMapLimits: stackMapLimits)
        script.probeNames = probeNames
        return script
    }

    // MARK: Attach points

    /// What a probe's body may refer to.
    struct ProbeContext {
        var programType: ProgramType
        var tracepoint: TracepointFormat?
        var probeName: String
        /// The probed function, for `func` (uprobes: known from the attach point).
        var function: String?
        var arguments: ArgumentSource = .none
        /// The probed binary of a uprobe, for `uaddr`.
        var binary: String?
        /// The attach point's provider (`tracepoint`, `uprobe`...), for error messages.
        var providerName = ""

        /// Where the probe's own pointers point: user memory in uprobes and USDT probes, kernel
        /// memory elsewhere, kprobes included (bpftrace's address spaces).
        var pointersAreUserMemory: Bool {
            switch arguments {
            case .registers: providerName != "kprobe" && providerName != "kretprobe"
            case .usdt: true
            default: false
            }
        }
    }

    /// Where `arg0`...`argN` and `retval` come from.
    enum ArgumentSource {
        case none
        /// A raw tracepoint's context is an array of u64 arguments.
        case rawTracepoint
        /// A uprobe's context is the user `struct pt_regs` (x86-64 layout).
        case registers(isReturn: Bool)
        /// A USDT probe's arguments, as its note's argument specs locate them (`probe` names
        /// the probe in errors).
        case usdt([USDTArgument], probe: String)
        /// kfunc/kretfunc: the context is an array of u64 slots, one per parameter of the BTF
        /// prototype, then (kretfunc) the return value.
        case kernelFunction([KernelFunctionParameter], isReturn: Bool, returnValue: KernelFunctionParameter.Kind?)
    }

    /// Offsets in x86-64 `struct pt_regs` (arch/x86/include/asm/ptrace.h) of the argument
    /// registers of the SysV calling convention: di, si, dx, cx, r8, r9.
    static let argumentRegisterOffsets: [Int16] = [112, 104, 96, 88, 72, 64]
    /// `ax` in `struct pt_regs`, the return value.
    static let returnValueOffset: Int16 = 80

    /// Expands a wildcard tracepoint specifier into one attach point per matching tracepoint, as
    /// bpftrace does; a probe's action is then compiled once per expanded point. Other
    /// specifiers pass through unchanged (wildcards elsewhere are reported by `resolve`).
    mutating func expand(_ point: AttachPoint) -> [AttachPoint] {
        guard point.needsExpansion, point.problem == nil else { return [point] }
        if point.provider == "uprobe" || point.provider == "uretprobe" { return expandUprobe(point) }
        if point.provider == "kfunc" || point.provider == "kretfunc" { return expandKernelFunction(point) }
        guard point.provider == "tracepoint" else { return [point] }
        let matches: [(category: String, name: String)]
        do { matches = try formats.tracepoints(matching: point.target + ":" + point.function) } catch {
            diagnostics.error("cannot list tracepoints for '\(point.raw)': \(error)", at: point.reportRange)
            return []
        }
        guard !matches.isEmpty else {
            diagnostics.error("No probes matched '\(point.raw)'", at: point.reportRange)
            return []
        }
        return matches.map { match in
            var concrete = point
            concrete.target = match.category
            concrete.function = match.name
            concrete.raw = "tracepoint:\(match.category):\(match.name)"
            return concrete
        }
    }

    /// `uprobe:BINARY:PATTERN`: one attach point per function of the binary whose name matches
    /// (shell glob rules). Wildcards in the binary itself are refused, as in bpftrace.
    mutating func expandUprobe(_ point: AttachPoint) -> [AttachPoint] {
        guard !point.target.contains(where: { "*?[".contains($0) }), point.namespace.isEmpty else {
            diagnostics.error("wildcards in the binary of probe '\(point.raw)' are not supported", at: point.reportRange)
            return []
        }
        guard let names = options.userFunctionNames?(point.target) else {
            diagnostics.error("\(point.provider) target file '\(point.target)' does not exist or is not executable", at: point.reportRange)
            return []
        }
        let pattern = point.function
        return names.filter { fnmatch(pattern, $0, 0) == 0 }.map { name in
            var concrete = point
            concrete.function = name
            concrete.raw = "\(point.provider):\(point.target):\(name)"
            return concrete
        }
    }

    mutating func resolve(_ point: AttachPoint) -> (AttachPoint, TraceAttachment, ProbeContext)? {
        if let problem = point.problem {
            diagnostics.error(problem, at: point.reportRange)
            return nil
        }
        // Probe types this kernel cannot attach at all are reported as such, wildcard or not.
        if point.needsExpansion && !["kprobe", "kretprobe"].contains(point.provider) {
            diagnostics.error("wildcards in probe '\(point.raw)' are not supported by swiftbpf trace yet", at: point.reportRange)
            return nil
        }
        let name = point.name
        switch point.provider {
        case "BEGIN": return (point, .begin, ProbeContext(programType: .rawTracepoint, probeName: name))
        case "END": return (point, .end, ProbeContext(programType: .rawTracepoint, probeName: name))
        case "tracepoint":
            do {
                let format = try formats.format(category: point.target, name: point.function)
                return (point, .tracepoint(category: point.target, name: point.function),
                        ProbeContext(programType: .tracepoint, tracepoint: format, probeName: name))
            } catch {
                diagnostics.error("tracepoint not found: \(point.target):\(point.function)", at: point.reportRange)
                return nil
            }
        case "rawtracepoint":
            return (point, .rawTracepoint(name: point.function), ProbeContext(programType: .rawTracepoint, probeName: name, arguments: .rawTracepoint))
        case "uprobe", "uretprobe":
            let isReturn = point.provider == "uretprobe"
            return (point, .uprobe(binary: point.target, function: point.function, offset: point.offset, address: point.address, isReturn: isReturn),
                    ProbeContext(programType: .kprobe, probeName: name, function: point.function.isEmpty ? nil : point.function,
                                 arguments: .registers(isReturn: isReturn), binary: point.target, providerName: point.provider))
        case "interval":
            let multiplier: UInt64
            switch point.target {
            case "s": multiplier = 1_000_000_000
            case "ms": multiplier = 1_000_000
            case "us": multiplier = 1_000
            default:
                guard point.frequency > 0 else { diagnostics.error("interval rate must be positive", at: point.reportRange); return nil }
                return (point, .interval(nanoseconds: 1_000_000_000 / point.frequency), ProbeContext(programType: .perfEvent, probeName: name))
            }
            guard point.frequency > 0 else { diagnostics.error("interval rate must be positive", at: point.reportRange); return nil }
            return (point, .interval(nanoseconds: point.frequency * multiplier), ProbeContext(programType: .perfEvent, probeName: name))
        case "profile":
            guard point.frequency > 0 else {
                diagnostics.error("profile frequency should be a positive integer", at: point.reportRange)
                return nil
            }
            let nanosecondsPerUnit: UInt64
            switch point.target {
            case "hz": return (point, .profile(hertz: point.frequency), ProbeContext(programType: .perfEvent, probeName: name))
            case "s": nanosecondsPerUnit = 1_000_000_000
            case "ms": nanosecondsPerUnit = 1_000_000
            default: nanosecondsPerUnit = 1_000
            }
            // profile:s|ms|us:N samples cpu-clock on every CPU once per period, as bpftrace does.
            let (period, overflow) = point.frequency.multipliedReportingOverflow(by: nanosecondsPerUnit)
            guard !overflow else { diagnostics.error("profile period is too large", at: point.reportRange); return nil }
            return (point, .perfEvent(type: 1, config: 0, period: period), ProbeContext(programType: .perfEvent, probeName: name))
        case "software", "hardware":
            guard let event = PerfEventProbe.named(point.target, provider: point.provider) else {
                diagnostics.error("\(point.target) is not a \(point.provider) probe", at: point.reportRange)
                return nil
            }
            // A count of 0 falls back to the default, as in bpftrace (perf refuses a zero period).
            let period = point.frequency > 0 ? point.frequency : event.defaultPeriod
            return (point, .perfEvent(type: event.type, config: event.config, period: period), ProbeContext(programType: .perfEvent, probeName: name))
        case "kprobe", "kretprobe":
            if let reason = options.kprobesUnavailable?() {
                diagnostics.error("\(point.provider) probes need \(reason); use tracepoint: or rawtracepoint: instead", at: point.reportRange)
                return nil
            }
            if point.needsExpansion {
                diagnostics.error("wildcards in probe '\(point.raw)' are not supported by swiftbpf trace yet", at: point.reportRange)
                return nil
            }
            let isReturn = point.provider == "kretprobe"
            return (point, .kprobe(function: point.function, offset: point.offset, isReturn: isReturn),
                    ProbeContext(programType: .kprobe, probeName: name, function: point.function, arguments: .registers(isReturn: isReturn)))
        case "kfunc", "kretfunc":
            return resolveKernelFunction(point)
        case "watchpoint", "asyncwatchpoint":
            return resolveWatchpoint(point)
        default:
            diagnostics.error("swiftbpf trace does not support \(point.provider) probes yet", at: point.reportRange)
            return nil
        }
    }

    // MARK: Type inference

    struct Scope {
        var context: ProbeContext
        var variables: [String: TraceValueType] = [:]
        /// Variables whose assigned value had an error already reported; their uses stay quiet.
        var failedVariables: Set<String> = []
        /// Variables holding a tracepoint array field (`$a = args->args`): bpftrace keeps them
        /// in the context, so they cannot go into maps.
        var contextVariables: Set<String> = []
    }

    mutating func inferBlock(_ block: Block, _ scope: inout Scope) {
        for statement in block.statements { inferStatement(statement, &scope) }
    }

    mutating func inferStatement(_ statement: Statement, _ scope: inout Scope) {
        switch statement.kind {
        case .expression(let expression):
            if case .unary(let op, let target, _) = expression.kind, op == .increment || op == .decrement {
                if case .map = target.kind { declareMap(target, kind: .value(.integer(signed: true)), scope: &scope) }
                else if case .variable(let name) = target.kind { scope.variables[name] = scope.variables[name] ?? .integer(signed: true) }
                return
            }
            _ = inferType(expression, &scope)
        case .assignMap(let map, let value, _):
            guard case .map(let name, _) = map.kind else { return }
            guard !refusesContextInMap(map, value, statement, scope) else { return }
            if case .call(let function, let arguments) = value.kind, BPFTraceLanguage.functions[function]?.kind == .mapAggregation {
                var kind: TraceMapKind
                let argumentType = arguments.first.flatMap { inferType($0, &scope) }
                let signed: Bool = { if case .integer(let signed)? = argumentType { signed } else { false } }()
                if let argumentType, argumentType.isString {
                    diagnostics.error("\(function)() expects an integer argument", at: arguments[0].range)
                }
                switch function {
                case "count": kind = .count
                case "sum": kind = .sum(signed: signed)
                case "min": kind = .min(signed: signed)
                case "max": kind = .max(signed: signed)
                case "avg": kind = .avg
                case "stats": kind = .stats
                case "hist": kind = .hist
                case "lhist":
                    var limits: [Int64] = []
                    for argument in arguments.dropFirst() {
                        guard case .integer(let value) = argument.kind else {
                            diagnostics.error("lhist() expects integer literals for min, max and step", at: argument.range)
                            return
                        }
                        limits.append(value)
                    }
                    guard limits.count == 3, limits[2] > 0, limits[1] > limits[0] else {
                        diagnostics.error("lhist() needs min < max and step > 0", at: value.range)
                        return
                    }
                    kind = .lhist(min: limits[0], max: limits[1], step: limits[2])
                default: return
                }
                if let signature = BPFTraceLanguage.functions[function], !signature.accepts(argumentCount: arguments.count) {
                    diagnostics.error("\(function)() takes \(signature.minimumArguments) arguments (\(arguments.count) provided)", at: value.range)
                }
                declareMap(map, kind: kind, scope: &scope)
                _ = name
            } else if let type = inferType(value, &scope) {
                declareMap(map, kind: .value(type), scope: &scope)
            }
        case .assignVariable(let variable, let value, _):
            guard case .variable(let name) = variable.kind else { return }
            guard let type = inferType(value, &scope) else {
                if scope.variables[name] == nil { scope.failedVariables.insert(name) }
                return
            }
            if isContextArray(value, scope) { scope.contextVariables.insert(name) }
            if let existing = scope.variables[name], !existing.isCompatible(with: type) {
                diagnostics.error("Type mismatch for \(name): trying to assign value of type '\(type)' when variable already contains a value of type '\(existing)'", at: statement.range)
                return
            }
            scope.variables[name] = type
        case .if(let condition, let then, let otherwise):
            _ = inferType(condition, &scope)
            inferBlock(then, &scope)
            if let otherwise { inferBlock(otherwise, &scope) }
        case .while(let condition, let body):
            _ = inferType(condition, &scope)
            loopDepth += 1
            inferBlock(body, &scope)
            loopDepth -= 1
        case .unroll(let count, let body):
            guard case .integer(let times) = count.kind, (1...100).contains(times) else {
                diagnostics.error("unroll maximum value is 100", at: count.range)
                return
            }
            inferBlock(body, &scope)
        case .jump(let kind):
            if kind != .return && loopDepth == 0 { diagnostics.error("'\(kind.rawValue)' statement is not allowed outside of a loop", at: statement.range) }
        }
    }

    mutating func declareMap(_ map: Expression, kind: TraceMapKind, scope: inout Scope) {
        guard case .map(let name, let keys) = map.kind else { return }
        var keyTypes: [TraceValueType] = []
        for key in keys {
            guard let type = inferType(key, &scope) else { return }
            if type.isTuple {
                diagnostics.error("tuple cannot be used as a map key. Try a multi-key associative array instead (eg `@map[$1, $2] = ...)`.", at: key.range)
                return
            }
            keyTypes.append(type)
        }
        if let index = mapIndex[name] {
            var existing = maps[index]
            if existing.keyTypes.count != keyTypes.count || zip(existing.keyTypes, keyTypes).contains(where: { !$0.isCompatible(with: $1) }) {
                diagnostics.error("Argument mismatch for \(name): trying to access with arguments: [\(keyTypes.map(\.description).joined(separator: ", "))] when map expects arguments: [\(existing.keyTypes.map(\.description).joined(separator: ", "))]", at: map.range)
                return
            }
            existing.keyTypes = zip(existing.keyTypes, keyTypes).map { widen($0, $1) }
            switch (existing.kind, kind) {
            case (.value(let a), .value(let b)) where a.isCompatible(with: b):
                existing.kind = .value(widen(a, b))
            case _ where existing.kind.functionName == kind.functionName:
                break
            default:
                diagnostics.error("Type mismatch for \(name): trying to assign value of type '\(kind.functionName)' when map already contains a value of type '\(existing.kind.functionName)'", at: map.range)
                return
            }
            maps[index] = existing
        } else {
            mapIndex[name] = maps.count
            maps.append(TraceMap(name: name, keyTypes: keyTypes, kind: kind))
        }
    }

    /// bpftrace's refusal of len() on a map without keys (one element at most).
    static let lenOfScalarMap = "call to len() expects a map with explicit keys (non-scalar map)"

    /// Signal names signal() accepts ("SIGKILL" or "KILL"), numbered as on x86-64 Linux (signal(7)).
    static func signalNumber(_ name: String) -> Int32? {
        let names = ["HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
                     "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
                     "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
                     "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "PWR": 30, "SYS": 31]
        let bare = name.hasPrefix("SIG") ? String(name.dropFirst(3)) : name
        return names[bare].map(Int32.init)
    }

    /// The stack-trace map for `stack`'s frame limit, created on first use.
    mutating func useStackMap(_ stack: TraceStack) -> TraceStack {
        if !stackMapLimits.contains(stack.limit) { stackMapLimits.append(stack.limit) }
        return stack
    }

    /// The fd-array slot of the stack-trace map for `limit` (after the ring buffer and script maps).
    func stackMapReference(limit: Int) -> Int32 {
        Int32(1 + maps.count + (stackMapLimits.firstIndex(of: limit) ?? 0))
    }

    /// The fd-array slot of the lost-event counter (after the stack-trace maps).
    var lostEventsMapReference: Int32 { Int32(1 + maps.count + stackMapLimits.count) }

    /// bpftrace's largest stack limit (its MAX_STACK_SIZE).
    static let maximumStackLimit = 1024

    /// `kstack(mode, limit)`/`ustack(...)`, `ksym(addr)`/`usym(addr)`, `kaddr("sym")`/`uaddr("sym")`:
    /// arguments are checked as bpftrace does, with its messages.
    mutating func inferSymbolCall(_ name: String, _ arguments: [Expression], _ expression: Expression, _ scope: inout Scope) -> TraceValueType? {
        switch name {
        case "kstack", "ustack":
            guard arguments.count <= 2 else {
                diagnostics.error("\(name)() takes up to 2 arguments (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            var stack = TraceStack()
            for (position, argument) in arguments.enumerated() {
                switch argument.kind {
                case .stackMode(let mode), .identifier(let mode):
                    guard position == 0, let parsed = TraceStack.Mode(rawValue: mode) else {
                        if position == 0 { diagnostics.error("Unknown identifier: '\(mode)'", at: argument.range) }
                        diagnostics.error("\(name)() expects a integer literal (none provided)", at: expression.range)
                        return nil
                    }
                    stack.mode = parsed
                case .integer(let limit):
                    if position == 0 && arguments.count == 2 {
                        diagnostics.error("\(name)() expects a stack mode literal (integer provided)", at: expression.range)
                        return nil
                    }
                    guard limit >= 0, limit <= Self.maximumStackLimit else {
                        diagnostics.error("\(name)([int limit]): limit shouldn't exceed \(Self.maximumStackLimit), \(UInt64(bitPattern: limit)) given", at: expression.range)
                        return nil
                    }
                    stack.limit = Swift.max(1, Int(limit))
                default:
                    diagnostics.error("\(name)() expects a \(position == 0 ? "stack mode" : "integer") literal (\(inferType(argument, &scope)?.bpftraceName ?? "none") provided)", at: expression.range)
                    return nil
                }
            }
            if stack.limit > 127 {
                // The kernel refuses stack-trace maps deeper than kernel.perf_event_max_stack (127 by default).
                diagnostics.error("\(name)(): limit \(stack.limit) exceeds kernel.perf_event_max_stack (127 by default)", at: expression.range)
                return nil
            }
            let used = useStackMap(stack)
            return name == "kstack" ? .kernelStack(used) : .userStack(used)
        case "ksym", "usym":
            guard arguments.count == 1 else {
                diagnostics.error("\(name)() requires 1 argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard let type = inferType(arguments[0], &scope) else { return nil }
            guard type.isInteger else {
                diagnostics.error("\(name)() expects an integer or pointer argument", at: expression.range)
                return nil
            }
            return name == "ksym" ? .kernelSymbol : .userSymbol
        default: // kaddr, uaddr
            guard arguments.count == 1 else {
                diagnostics.error("\(name)() requires 1 argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard case .string(let bytes) = arguments[0].kind else {
                let provided = inferType(arguments[0], &scope)
                diagnostics.error("\(name)() expects a string literal (\(provided.map { $0.isString ? "string" : $0.bpftraceName } ?? "none") provided)", at: expression.range)
                return nil
            }
            let symbol = String(decoding: bytes, as: UTF8.self)
            if name == "uaddr" {
                guard case .registers = scope.context.arguments, let binary = scope.context.binary else {
                    diagnostics.error("uaddr can not be used with \"\(scope.context.providerName)\" probes", at: expression.range)
                    return nil
                }
                if options.userSymbolAddress?(binary, symbol) == nil {
                    diagnostics.error("Could not resolve symbol: \(binary):\(symbol)", at: expression.range)
                    return nil
                }
            } else if options.kernelSymbolAddress?(symbol) == nil {
                // bpftrace fails the same way at code generation, without a source location.
                diagnostics.error("Failed to resolve kernel symbol: \(symbol)", at: expression.range)
                return nil
            }
            return .integer(signed: false)
        }
    }

    func widen(_ a: TraceValueType, _ b: TraceValueType) -> TraceValueType {
        switch (a, b) {
        case (.tuple(let x), .tuple(let y)) where x.count == y.count: .tuple(zip(x, y).map { widen($0, $1) })
        case (.buffer(let x), .buffer(let y)): .buffer(capacity: Swift.max(x, y))
        case (.string(let x), .string(let y)): .string(size: Swift.max(x, y))
        case (.integer(let x), .integer(let y)): .integer(signed: x || y)
        default: a
        }
    }

    /// The type of an expression, or nil after reporting why it has none.
    mutating func inferType(_ expression: Expression, _ scope: inout Scope) -> TraceValueType? {
        switch expression.kind {
        case .integer: return .integer(signed: true)
        case .string(let bytes): return .string(size: alignedStringSize(bytes.count + 1))
        case .positionalParameter(let index):
            let value = index <= options.positionalParameters.count && index > 0 ? options.positionalParameters[index - 1] : ""
            return Int64(value) != nil || value.isEmpty ? .integer(signed: true) : .string(size: alignedStringSize(value.utf8.count + 1))
        case .parameterCount: return .integer(signed: false)
        case .builtin(let name):
            switch name {
            case "pid", "tid", "uid", "gid", "cpu", "nsecs", "elapsed", "rand", "cgroup", "numaid", "jiffies": return .integer(signed: false)
            case "username": return .userName
            case "comm": return .string(size: 16)
            case "probe": return .probeName
            case "func":
                // bpftrace symbolises the instruction pointer; at a uprobe on a named function that is its name.
                guard let function = scope.context.function else {
                    diagnostics.error("swiftbpf trace supports the builtin 'func' in uprobes on named functions only", at: expression.range)
                    return nil
                }
                return .string(size: alignedStringSize(function.utf8.count + 1))
            // bpftrace types curtask as `struct task_struct *` (printed signed, in hex as a map key).
            case "curtask": return .pointer(TracePointee(structName: "task_struct", isUser: false))
            case "kstack": return .kernelStack(useStackMap(TraceStack()))
            case "ustack": return .userStack(useStackMap(TraceStack()))
            case "cpid":
                guard options.hasChildCommand else {
                    diagnostics.error("cpid cannot be used without child command", at: expression.range)
                    return nil
                }
                return .integer(signed: false)
            case "retval":
                if case .registers(true) = scope.context.arguments { return .integer(signed: true) }
                if case .kernelFunction(_, true, let returnValue?) = scope.context.arguments { return returnValue.traceType }
                diagnostics.error("The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'kfunc' probes", at: expression.range)
                return nil
            default:
                if name.hasPrefix("arg"), let index = Int(name.dropFirst(3)) {
                    switch scope.context.arguments {
                    case .rawTracepoint: return .integer(signed: false)
                    case .kernelFunction(let parameters, _, _) where index < parameters.count: return .integer(signed: false)
                    case .kernelFunction:
                        diagnostics.error("\(name) is past the function's \(scope.context.function ?? "") parameters", at: expression.range)
                        return nil
                    case .registers where index < Self.argumentRegisterOffsets.count: return .integer(signed: false)
                    case .registers:
                        diagnostics.error("\(name) is not in a register on x86-64 (only arg0-arg5 are)", at: expression.range)
                        return nil
                    case .usdt(let arguments, _) where index < arguments.count: return .integer(signed: false)
                    case .usdt(_, let probe):
                        diagnostics.error("couldn't get argument \(index) for \(probe)", at: expression.range)
                        return nil
                    case .none: break
                    }
                }
                if let type = inferContextBuiltin(name, expression, scope) { return type }
                if name.hasPrefix("arg") || name.hasPrefix("sarg") {
                    diagnostics.error("The \(name) builtin can only be used with uprobe and kprobe probes", at: expression.range)
                    return nil
                }
                diagnostics.error("swiftbpf trace does not support the builtin '\(name)' yet", at: expression.range)
                return nil
            }
        case .variable(let name):
            if let type = scope.variables[name] { return type }
            if scope.failedVariables.contains(name) { return nil }
            diagnostics.error("Undefined or undeclared variable: \(name)", at: expression.range)
            return nil
        case .map(let name, let keys):
            for key in keys { _ = inferType(key, &scope) }
            guard let index = mapIndex[name] else {
                // Maybe assigned later in this or another probe: bpftrace reports unassigned maps.
                if !program.probes.contains(where: { assigns(name, in: $0.body) }) {
                    diagnostics.error("Undefined map: \(name)", at: expression.range)
                    return nil
                }
                return .integer(signed: true)
            }
            switch maps[index].kind {
            case .value(let type): return type
            case .hist, .lhist:
                diagnostics.error("\(name) is a histogram; it can only be printed", at: expression.range)
                return nil
            case .count: return .integer(signed: false)
            case .sum(let signed), .min(let signed), .max(let signed): return .integer(signed: signed)
            case .avg, .stats: return .integer(signed: true)
            }
        case .tuple(let elements):
            var types: [TraceValueType] = []
            for element in elements {
                guard let type = inferType(element, &scope) else { return nil }
                types.append(type)
            }
            return .tuple(types)
        case .tupleIndex(let base, let index):
            guard let baseType = inferType(base, &scope) else { return nil }
            guard case .tuple(let elements) = baseType else {
                diagnostics.error("Can not access index '\(index)' on expression of type '\(baseType.bpftraceName)'", at: expression.range)
                return nil
            }
            guard index >= 0, index < elements.count else {
                diagnostics.error("Invalid tuple index: \(index). Found \(elements.count) elements in tuple.", at: expression.range)
                return nil
            }
            return elements[index]
        case _ where Self.isTypeConstant(expression):
            return typeConstant(expression, &scope).map { _ in .integer(signed: false) }
        case .index:
            return indexType(expression, &scope)
        case .call("uptr", _), .call("kptr", _):
            return addressSpaceCastType(expression, &scope)
        case .unary(.dereference, let operand, _) where !isArgs(operand) && quietType(operand, &scope)?.isPointer == true:
            guard let chain = memberChain(expression, &scope) else { return nil }
            return memberType(chain, range: expression.range)
        case .call("buf", let arguments):
            guard arguments.count == 2 else {
                diagnostics.error("buf() requires 2 arguments (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard let pointer = inferType(arguments[0], &scope) else { return nil }
            guard pointer.isInteger else {
                diagnostics.error("buf() expects an integer or pointer argument (\(pointer.bpftraceName) provided)", at: expression.range)
                return nil
            }
            guard case .integer(let length) = arguments[1].kind, length >= 0 else {
                diagnostics.error("buf() expects an integer literal as its length", at: arguments[1].range)
                return nil
            }
            // bpftrace caps buffers at BPFTRACE_STRLEN bytes.
            return .buffer(capacity: Swift.max(1, Int(Swift.min(length, Int64(options.stringLength)))))
        case .call("strftime", let arguments):
            guard arguments.count == 2 else {
                diagnostics.error("strftime() requires 2 arguments (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard case .string(let bytes) = arguments[0].kind else {
                diagnostics.error("strftime() expects a string literal (\(inferType(arguments[0], &scope)?.bpftraceName ?? "none") provided)", at: expression.range)
                return nil
            }
            guard let time = inferType(arguments[1], &scope) else { return nil }
            guard case .integer = time else {
                diagnostics.error("strftime() expects an integer for argument 2 (\(time.bpftraceName) provided)", at: expression.range)
                return nil
            }
            return .timestamp(format: String(decoding: bytes, as: UTF8.self))
        case .call("cgroupid", let arguments):
            guard arguments.count == 1 else {
                diagnostics.error("cgroupid() requires one argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard case .string(let bytes) = arguments[0].kind else {
                diagnostics.error("cgroupid() expects a string literal (\(inferType(arguments[0], &scope)?.argumentKindName ?? "none") provided)", at: expression.range)
                return nil
            }
            let path = String(decoding: bytes, as: UTF8.self)
            if case .failure(let message) = Self.cgroupID(path: path) {
                diagnostics.error("Failed to get `cgroupid` for path: \"\(path)\": \(message)", at: expression.range)
                return nil
            }
            return .integer(signed: false)
        case .call("ntop", let arguments):
            guard (1...2).contains(arguments.count) else {
                diagnostics.error(arguments.isEmpty ? "ntop() requires at least one argument (0 provided)" : "ntop() takes up to 2 arguments (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            if arguments.count == 2 {
                guard let family = inferType(arguments[0], &scope) else { return nil }
                guard case .integer = family else {
                    diagnostics.error("ntop() only supports integer arguments (\(family.argumentKindName) provided)", at: expression.range)
                    return nil
                }
            }
            guard let address = inferType(arguments[arguments.count - 1], &scope) else { return nil }
            switch address {
            case .integer, .pointer: return .inet
            case .byteArray(let count) where count == 4 || count == 16: return .inet
            case .string(let size) where size >= 4 && arguments.count == 1: return .inet
            case .byteArray, .string:
                diagnostics.error("ntop() argument must be 4 or 16 bytes in size", at: expression.range)
                return nil
            default:
                diagnostics.error("ntop() expects an integer or array argument, got \(address.bpftraceName)", at: expression.range)
                return nil
            }
        case .call("pton", let arguments):
            guard arguments.count == 1 else {
                diagnostics.error("pton() requires one argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard case .string(let bytes) = arguments[0].kind else {
                diagnostics.error("pton() expects a string literal (\(inferType(arguments[0], &scope)?.argumentKindName ?? "none") provided)", at: expression.range)
                return nil
            }
            let text = String(decoding: bytes, as: UTF8.self)
            switch Self.parseNetworkAddress(text) {
            case .address(let address): return .byteArray(count: address.count)
            case .notAnAddress:
                diagnostics.error("pton() expects an string argument of an IPv4/IPv6 address, got \(text)", at: expression.range)
            case .invalid:
                diagnostics.error("pton() expects a valid IPv4/IPv6 address, got \(text)", at: expression.range)
            }
            return nil
        case .call("macaddr", let arguments):
            guard arguments.count == 1 else {
                diagnostics.error("macaddr() requires one argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            guard let source = inferType(arguments[0], &scope) else { return nil }
            switch source {
            case .integer, .pointer: return .macAddress
            case .byteArray, .string:
                diagnostics.error("macaddr() argument must be 6 bytes in size", at: expression.range)
                return nil
            default:
                diagnostics.error("macaddr() only supports array or pointer arguments (\(source.bpftraceName) provided)", at: expression.range)
                return nil
            }
        case .call("reg", let arguments):
            guard arguments.count == 1 else {
                diagnostics.error("reg() requires one argument (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            var valid = true
            switch scope.context.arguments {
            case .registers, .usdt: break
            default:
                diagnostics.error("reg can not be used with \"\(scope.context.providerName)\" probes", at: expression.range)
                valid = false
            }
            guard case .string(let bytes) = arguments[0].kind else {
                diagnostics.error("reg() expects a string literal (\(inferType(arguments[0], &scope)?.argumentKindName ?? "none") provided)", at: expression.range)
                return nil
            }
            let register = String(decoding: bytes, as: UTF8.self)
            if ProbeRegisters.offsets[register] == nil {
                diagnostics.error("'\(register)' is not a valid register on this architecture (\(ProbeRegisters.architecture))", at: expression.range)
                return nil
            }
            return valid ? .integer(signed: false) : nil
        case .call(let name, let arguments) where ["kstack", "ustack", "ksym", "usym", "kaddr", "uaddr"].contains(name):
            return inferSymbolCall(name, arguments, expression, &scope)
        case .call(let name, let arguments) where Self.checkedFunctions.contains(name):
            return inferCheckedCall(name, arguments, expression, &scope)
        case .call(let name, let arguments):
            if name == "print", let problem = unprintableArgument(arguments, &scope) {
                diagnostics.error(problem, at: expression.range)
                return nil
            }
            for argument in arguments {
                // print/clear/zero/delete take the map itself, whatever it holds.
                if ["print", "clear", "zero", "delete", "len"].contains(name), case .map(let mapName, let keys) = argument.kind {
                    for key in keys { _ = inferType(key, &scope) }
                    if mapIndex[mapName] == nil && !program.probes.contains(where: { assigns(mapName, in: $0.body) }) {
                        diagnostics.error("Undefined map: \(mapName)", at: argument.range)
                    }
                    continue
                }
                _ = inferType(argument, &scope)
            }
            guard let signature = BPFTraceLanguage.functions[name] else {
                diagnostics.error("Unknown function: '\(name)'", at: expression.range)
                return nil
            }
            if !signature.accepts(argumentCount: arguments.count) {
                let expected = signature.maximumArguments == signature.minimumArguments ? "\(signature.minimumArguments)" : "at least \(signature.minimumArguments)"
                diagnostics.error("\(name)() requires \(expected) argument\(signature.minimumArguments == 1 ? "" : "s") (\(arguments.count) provided)", at: expression.range)
                return nil
            }
            switch name {
            case "str":
                if arguments.count == 2, case .integer(let length) = arguments[1].kind, length > 0 {
                    return .string(size: alignedStringSize(Int(Swift.min(Int64(options.stringLength), length + 1))))
                }
                return .string(size: alignedStringSize(options.stringLength))
            case "printf", "exit", "print", "clear", "zero", "delete", "time", "cat": return .integer(signed: false)
            case "len":
                // len(@map) (bpftrace 0.19+): the map's element count, an int64.
                guard case .map(let mapName, let keys) = arguments[0].kind, keys.isEmpty else {
                    diagnostics.error("len() expects a map to be provided", at: arguments[0].range)
                    return nil
                }
                if let index = mapIndex[mapName], maps[index].keyTypes.isEmpty {
                    diagnostics.error(Self.lenOfScalarMap, at: arguments[0].range)
                    return nil
                }
                return .integer(signed: true)
            case "signal":
                if !options.unsafe {
                    diagnostics.error("signal() is an unsafe function being used in safe mode", at: expression.range)
                    return nil
                }
                if case .string(let bytes) = arguments[0].kind, Self.signalNumber(String(decoding: bytes, as: UTF8.self)) == nil {
                    diagnostics.error("\(String(decoding: bytes, as: UTF8.self)) is not a valid signal", at: arguments[0].range)
                    return nil
                }
                return .integer(signed: false)
            case "system":
                if !options.unsafe {
                    diagnostics.error("system() is an unsafe function being used in safe mode", at: expression.range)
                    return nil
                }
                return .integer(signed: false)
            case "join":
                guard let first = arguments.first, let type = inferType(first, &scope), !type.isString else {
                    diagnostics.error("join() expects a pointer to an array of strings", at: expression.range)
                    return nil
                }
                if arguments.count == 2, case .string = arguments[1].kind {} else if arguments.count == 2 {
                    diagnostics.error("join() expects a string literal as its delimiter", at: arguments[1].range)
                }
                return .integer(signed: false)
            case "count", "sum", "avg", "min", "max", "stats", "hist", "lhist":
                diagnostics.error("\(name)() should be directly assigned to a map", at: expression.range)
                return nil
            default:
                diagnostics.error("swiftbpf trace does not support \(name)() yet", at: expression.range)
                return nil
            }
        case .binary(let op, let lhs, let rhs):
            let left = inferType(lhs, &scope)
            let right = inferType(rhs, &scope)
            guard let left, let right else { return nil }
            if let pointerResult = pointerBinaryType(op, left, right, expression) { return pointerResult }
            // bpftrace compares arrays of one size byte by byte: `$a == pton("10.0.0.1")`.
            if case .byteArray(let a) = left, case .byteArray(let b) = right {
                guard a == b else {
                    diagnostics.error("Only arrays of same size support comparison operators.", at: expression.operatorRange ?? expression.range)
                    return nil
                }
                if op == .equal || op == .notEqual { return .integer(signed: false) }
            }
            if !left.isInteger && !left.isString || !right.isInteger && !right.isString {
                diagnostics.error("Type mismatch for '\(op.rawValue)': comparing '\(left.bpftraceName)' with '\(right.bpftraceName)'", at: expression.range)
                return nil
            }
            if left.isString || right.isString {
                guard left.isString && right.isString, op == .equal || op == .notEqual else {
                    diagnostics.error("Type mismatch for '\(op.rawValue)': comparing '\(left)' with '\(right)'", at: expression.operatorRange ?? expression.range)
                    return nil
                }
                return .integer(signed: false)
            }
            if op == .divide || op == .modulo, case .integer(true) = left, case .integer(true) = right {
                diagnostics.warning("signed operands for '\(op.rawValue)' can lead to undefined behavior (cast to unsigned to silence warning)", at: expression.operatorRange ?? expression.range)
            }
            switch op {
            case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .logicalAnd, .logicalOr: return .integer(signed: false)
            default:
                if case .integer(let a) = left, case .integer(let b) = right { return .integer(signed: a && b) }
                return left
            }
        case .unary(let op, let operand, _):
            guard let type = inferType(operand, &scope) else { return nil }
            if !type.isInteger {
                diagnostics.error("The \(op.rawValue) operator can not be used on strings", at: expression.range)
                return nil
            }
            return op == .logicalNot ? .integer(signed: false) : type
        case .ternary(let condition, let then, let otherwise):
            _ = inferType(condition, &scope)
            guard let a = inferType(then, &scope), let b = inferType(otherwise, &scope) else { return nil }
            guard a.isCompatible(with: b) else {
                diagnostics.error("Ternary operator must return the same type: have '\(a)' and '\(b)'", at: expression.range)
                return nil
            }
            // bpftrace gives an integer ternary the type of its first branch (so `$s ? nsecs - $s : 0` stays unsigned).
            if case .integer = a { return a }
            return widen(a, b)
        case .field(let base, let name, let arrow):
            if let chain = memberChain(expression, &scope) {
                if chain.accessors.count == 1, case .field(_, arrow: false) = chain.accessors[0], case .value = chain.root {
                    diagnostics.error("Can not access field '\(name)' on type '\(chain.pointee.typeName) *'. Try dereferencing it first, or using '->'", at: expression.range)
                    return nil
                }
                return memberType(chain, range: expression.range)
            }
            _ = arrow
            guard isArgs(base) else {
                if case .variable(let variable) = base.kind, scope.failedVariables.contains(variable) { return nil }
                if case .unary(.dereference, let inner, _) = base.kind, case .variable(let variable) = inner.kind, scope.failedVariables.contains(variable) { return nil }
                diagnostics.error("swiftbpf trace supports field access on args only", at: expression.range)
                return nil
            }
            if case .kernelFunction(let parameters, _, _) = scope.context.arguments {
                guard let parameter = parameters.first(where: { $0.name == name }) else {
                    diagnostics.error("Can't find function parameter \(name)", at: expression.range)
                    return nil
                }
                return parameter.kind.traceType
            }
            guard let format = scope.context.tracepoint else {
                diagnostics.error("The args builtin can only be used with tracepoint probes", at: base.range)
                return nil
            }
            guard let field = format.field(named: name) else {
                diagnostics.error("Struct/union of type 'struct \(format.name)_args' does not contain a field named '\(name)'", at: expression.range)
                return nil
            }
            switch field.kind {
            case .scalar: return .integer(signed: field.isSigned)
            case .array, .dataLocation, .relativeLocation:
                if field.type.hasPrefix("char") || field.type.contains(" char") { return .string(size: stringSize(of: field)) }
                if case .array(let count?) = field.kind, count > 0 {
                    return .integerArray(elementSize: field.size / count, signed: field.isSigned, count: count)
                }
                diagnostics.error("swiftbpf trace reads only integer and char-array tracepoint fields", at: expression.range)
                return nil
            }
        case .cast(let type, let operand):
            guard let operandType = inferType(operand, &scope) else { return nil }
            if let pointer = castToPointer(type, operandType, expression, scope) {
                return pointer.isPointer ? pointer : nil
            }
            if let pointer = castToStructPointer(type, operandType, expression, scope) {
                return pointer.isPointer ? pointer : nil
            }
            guard !operandType.isString, type.pointerDepth == 0, castWidth(type.name) != nil else {
                diagnostics.error("Cannot cast to \"\(type)\"", at: expression.range)
                return nil
            }
            return .integer(signed: castWidth(type.name)!.signed)
        default:
            diagnostics.error("swiftbpf trace does not support this expression yet", at: expression.range)
            return nil
        }
    }

    func stringSize(of field: TracepointField) -> Int {
        if case .array(let count?) = field.kind { return alignedStringSize(count) }
        return alignedStringSize(options.stringLength)
    }

    func isArgs(_ expression: Expression) -> Bool {
        switch expression.kind {
        case .builtin("args"): true
        case .unary(.dereference, let inner, _): isArgs(inner)
        default: false
        }
    }

    func assigns(_ map: String, in block: Block) -> Bool {
        block.statements.contains { statement in
            switch statement.kind {
            case .assignMap(let target, _, _):
                if case .map(let name, _) = target.kind, name == map { return true }
                return false
            case .expression(let expression):
                if case .unary(_, let target, _) = expression.kind, case .map(let name, _) = target.kind { return name == map }
                return false
            case .if(_, let then, let otherwise): return assigns(map, in: then) || (otherwise.map { assigns(map, in: $0) } ?? false)
            default: return false
            }
        }
    }
}

/// String buffers are whole 8-byte words so that every key part and record field after them
/// stays aligned (the verifier refuses misaligned stack access); printing stops at the NUL.
func alignedStringSize(_ size: Int) -> Int { (size + 7) & ~7 }

/// Integer widths of bpftrace's cast types.
func castWidth(_ name: String) -> (bytes: Int, signed: Bool)? {
    switch name {
    case "int8", "char": (1, true)
    case "uint8", "unsigned char": (1, false)
    case "int16", "short": (2, true)
    case "uint16", "unsigned short": (2, false)
    case "int32", "int": (4, true)
    case "uint32", "unsigned int": (4, false)
    case "int64", "long": (8, true)
    case "uint64", "unsigned long": (8, false)
    default: nil
    }
}

extension TraceCompiler {
    /// `watchpoint:ADDRESS:LENGTH:MODE` with bpftrace's checks and messages. Watching the address
    /// a function argument holds (`watchpoint:func+1:8:w`, `asyncwatchpoint:`) is not supported.
    mutating func resolveWatchpoint(_ point: AttachPoint) -> (AttachPoint, TraceAttachment, ProbeContext)? {
        guard point.provider == "watchpoint", point.function.isEmpty else {
            diagnostics.error("swiftbpf trace supports watchpoints on fixed addresses only (watchpoint:ADDRESS:LENGTH:MODE)", at: point.reportRange)
            return nil
        }
        guard [1, 2, 4, 8].contains(point.length) else {
            diagnostics.error("watchpoint length must be one of (1,2,4,8)", at: point.reportRange)
            return nil
        }
        guard !point.mode.isEmpty, point.mode.allSatisfy({ "rwx".contains($0) }) else {
            diagnostics.error("watchpoint mode must be combination of (r,w,x)", at: point.reportRange)
            return nil
        }
        // x86 debug registers trap writes, reads-or-writes and instruction fetches.
        var access: UInt32 = 0
        if point.mode.contains("r") { access |= 1 }
        if point.mode.contains("w") { access |= 2 }
        if point.mode.contains("x") { access |= 4 }
        guard [2, 3, 4].contains(access), Set(point.mode).count == point.mode.count else {
            diagnostics.error("invalid watchpoint mode: \(point.mode)", at: point.reportRange)
            return nil
        }
        return (point, .watchpoint(address: point.address, length: Int(point.length), access: access),
                ProbeContext(programType: .perfEvent, probeName: point.name))
    }
}

