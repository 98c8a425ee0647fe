import BPFObject
import CBPFSys
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Options for turning an `ObjectSpec` into kernel objects.
public struct ObjectLoadOptions: Sendable {
    /// Where maps with `pinning = LIBBPF_PIN_BY_NAME` are pinned and looked for (libbpf's default).
    public var pinRoot = "/sys/fs/bpf"
    /// Verifier log level for every program (0: a log only when loading fails).
    public var logLevel: UInt32 = 0
    /// Kernel configuration text (`CONFIG_X=y` lines) for `.kconfig` externs; nil reads
    /// /boot/config-$(uname -r), then /proc/config.gz.
    public var kernelConfig: String?
    public init() {}
}

/// The open stage of an object (libbpf's `bpf_object__open`): the spec, adjustable before load
/// (initial global values, which programs load), then `load()`.
public final class ObjectLoader {
    public private(set) var spec: ObjectSpec
    public var options: ObjectLoadOptions

    public init(spec: ObjectSpec, options: ObjectLoadOptions = ObjectLoadOptions()) {
        self.spec = spec
        self.options = options
    }

    /// Reads and parses the object at `path` (its name is libbpf's: the base name up to the first `.`).
    public convenience init(path: String, options: ObjectLoadOptions = ObjectLoadOptions()) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BPFError.notFound(what: "BPF object file", detail: "cannot read \(path)")
        }
        let spec: ObjectSpec
        do { spec = try ObjectSpec(elf: [UInt8](data), name: ObjectSpec.objectName(forPath: path)) }
        catch let error as ObjectError { throw BPFError.invalidArgument("\(path): \(error)") }
        self.init(spec: spec, options: options)
    }

    /// Sets the initial bytes of a global variable in `.data`, `.rodata` or `.bss` (for
    /// `const volatile` configuration, like a skeleton's `rodata->x = ...` before load).
    public func setGlobal(_ name: String, _ bytes: [UInt8]) throws {
        guard let variable = spec.variable(named: name) else {
            throw BPFError.notFound(what: "global variable '\(name)'", detail: "the object has: \(spec.variables.map(\.name).joined(separator: ", "))")
        }
        guard bytes.count == Int(variable.size) else {
            throw BPFError.invalidArgument("global '\(name)' is \(variable.size) bytes, got \(bytes.count)")
        }
        guard let index = spec.maps.firstIndex(where: { $0.name == variable.mapName }) else { return }
        let start = Int(variable.offset)
        spec.maps[index].initialValue?.replaceSubrange(start..<(start + bytes.count), with: bytes)
    }

    /// Sets a global from a plain value (`Int32`, `UInt64`, a C-layout struct...).
    public func setGlobal<Value: BitwiseCopyable>(_ name: String, to value: Value) throws {
        try setGlobal(name, withUnsafeBytes(of: value) { Array($0) })
    }

    /// Chooses whether `program` is loaded (all are by default).
    public func setAutoload(_ program: String, _ enabled: Bool) throws {
        guard let index = spec.programs.firstIndex(where: { $0.name == program }) else {
            throw BPFError.notFound(what: "program '\(program)'", detail: "the object has: \(spec.programs.map(\.name).joined(separator: ", "))")
        }
        spec.programs[index].autoload = enabled
    }

    /// Loads only the named programs.
    public func selectPrograms(_ names: [String]) throws {
        for program in spec.programs { try setAutoload(program.name, names.contains(program.name)) }
        for name in names where spec.program(named: name) == nil { try setAutoload(name, true) }
    }

    /// Creates the maps, loads the selected programs and returns the live object. Everything
    /// created so far is released if a step fails.
    public func load() throws -> LoadedObject {
        var session = LoadSession(spec: spec, options: options)
        return try session.run()
    }
}

/// One load: the state that grows as maps and programs come into existence.
struct LoadSession {
    let spec: ObjectSpec
    let options: ObjectLoadOptions
    var objectBTF: LoadedBTF?
    var maps: [String: Map] = [:]
    var programs: [String: Program] = [:]
    var kernelBTFCache: BTF?
    var warnings: [String] = []
    /// Maps to pin by name once everything loaded: pinning is the load's last step, so a load
    /// that fails half-way (a program the verifier rejects) publishes nothing.
    var pendingPins: [(map: Map, path: String)] = []

    init(spec: ObjectSpec, options: ObjectLoadOptions) {
        self.spec = spec
        self.options = options
    }

    mutating func kernelBTF() throws -> BTF {
        if let kernelBTFCache { return kernelBTFCache }
        let btf = try KernelBTF.vmlinux()
        kernelBTFCache = btf
        return btf
    }

    mutating func run() throws -> LoadedObject {
        if let btf = spec.btf {
            do {
                objectBTF = try LoadedBTF(bytes: try BTFFeatureProbe.prepare(btf), label: "BTF of object '\(spec.name)'")
            } catch {
                // Like libbpf: an object whose BTF the kernel refuses still loads, without
                // BTF-typed maps and without line info.
                warnings.append("object BTF was not accepted by the kernel, loading without it: \(error)")
            }
        }
        for map in spec.maps where map.kind != .kconfig || !spec.externs.isEmpty {
            maps[map.name] = try createMap(map)
        }
        for map in spec.maps {
            for slot in map.initialSlots {
                guard case .map(let innerName) = slot.target, let inner = maps[innerName], let outer = maps[map.name] else { continue }
                try outer.update(withUnsafeBytes(of: slot.index.littleEndian) { Array($0) },
                                 withUnsafeBytes(of: try inner.fd.value().littleEndian) { Array($0) })
            }
        }
        // struct_ops: each program gets its kernel struct and member from the table using it.
        var structOpsPlans: [StructOpsPlan] = []
        if !spec.structOps.isEmpty {
            let kernel = try kernelBTF()
            structOpsPlans = try spec.structOps.map { try StructOpsPlan($0, kernel: kernel) }
        }
        for var program in spec.programs where program.autoload {
            if program.spec.type == .structOps {
                guard let plan = structOpsPlans.first(where: { $0.ops.programs.values.contains(program.name) }),
                      let member = plan.ops.programs.first(where: { $0.value == program.name })?.key else {
                    // libbpf too skips struct_ops programs that no table uses.
                    warnings.append("struct_ops program '\(program.name)' is used by no .struct_ops table; not loaded")
                    continue
                }
                let (typeID, index) = try plan.attachment(of: member, kernel: try kernelBTF())
                program.spec.attachBTFID = typeID
                // For struct_ops the kernel reads expected_attach_type as the member index.
                program.spec.expectedAttachType = AttachType(rawValue: index)
                guard program.spec.expectedAttachType != nil else {
                    throw BPFError.unsupported(feature: "struct_ops member #\(index) ('\(member)') of struct \(plan.ops.typeName)", detail: "member indexes past the known attach types cannot be expressed yet")
                }
            }
            programs[program.name] = try loadProgram(program)
        }
        var structOpsValues: [String: (ObjectStructOps, [UInt8])] = [:]
        for plan in structOpsPlans {
            guard !maps.keys.contains(plan.ops.name) else {
                throw BPFError.invalidArgument("struct_ops '\(plan.ops.name)' has the name of another map of the object")
            }
            guard let localBTF = spec.btf else { continue }
            let value = try plan.value(kernel: try kernelBTF(), local: localBTF) { name in
                guard let program = programs[name] else {
                    throw BPFError.invalidArgument("struct_ops '\(plan.ops.name)' needs program '\(name)', which was not loaded (autoload off?)")
                }
                return try program.fd.value()
            }
            maps[plan.ops.name] = try plan.createMap(kernel: try kernelBTF(), objectBTF: objectBTF)
            structOpsValues[plan.ops.name] = (plan.ops, value)
        }
        for map in spec.maps {
            for slot in map.initialSlots {
                guard case .program(let name) = slot.target, let target = programs[name], let array = maps[map.name] else { continue }
                try array.update(withUnsafeBytes(of: slot.index.littleEndian) { Array($0) },
                                 withUnsafeBytes(of: try target.fd.value().littleEndian) { Array($0) })
            }
        }
        try pinNewMaps()
        let loaded = LoadedObject(spec: spec, btf: objectBTF, maps: maps, programs: programs, warnings: warnings)
        loaded.structOpsValues = structOpsValues
        return loaded
    }

    // MARK: Maps

    mutating func createMap(_ objectMap: ObjectMapSpec) throws -> Map {
        var spec = objectMap.spec
        if spec.type == .perfEventArray, spec.maxEntries == 0 { spec.maxEntries = UInt32(PossibleCPUs.count) }
        let pinPath = objectMap.pinning == .byName ? options.pinRoot + "/" + objectMap.name : nil
        if let pinPath, FileManager.default.fileExists(atPath: pinPath) {
            // Reuse a compatible pinned map (libbpf's map_is_reuse_compat).
            let pinned = try Map(pinnedAt: pinPath)
            let info = try pinned.info()
            guard info.type == spec.type, info.keySize == spec.keySize, info.valueSize == spec.valueSize,
                  info.maxEntries == spec.maxEntries, info.flags == spec.flags else {
                throw BPFError.invalidArgument("map '\(objectMap.name)' pinned at \(pinPath) is incompatible with the object's definition (type \(info.type?.name ?? "?")/\(spec.type.name), key \(info.keySize)/\(spec.keySize), value \(info.valueSize)/\(spec.valueSize), max entries \(info.maxEntries)/\(spec.maxEntries), flags 0x\(String(info.flags, radix: 16))/0x\(String(spec.flags, radix: 16))); remove the pin or fix the definition")
            }
            return pinned
        }
        let map = try createWithBTF(spec, objectMap)
        if objectMap.kind == .kconfig {
            let value = try kconfigValue(valueSize: Int(spec.valueSize))
            try map.update([0, 0, 0, 0], value)
        } else if let initial = objectMap.initialValue {
            try map.update([0, 0, 0, 0], initial)
        }
        if objectMap.isReadOnly { try map.freeze() }
        if let pinPath { pendingPins.append((map, pinPath)) }
        return map
    }

    /// Pins the maps this load created with `pinning = LIBBPF_PIN_BY_NAME`; if one pin fails, the
    /// ones made before it are removed again (pins that existed before the load stay: they
    /// were reused, not created).
    mutating func pinNewMaps() throws {
        var pinned: [String] = []
        do {
            for (map, path) in pendingPins {
                try map.pin(at: path)
                pinned.append(path)
            }
        } catch {
            for path in pinned { unlink(path) }
            throw error
        }
        pendingPins = []
    }

    func createWithBTF(_ spec: MapSpec, _ objectMap: ObjectMapSpec) throws -> Map {
        guard let objectBTF, let valueTypeID = objectMap.valueTypeID else { return try Map(spec) }
        let types = MapBTFTypes(fd: objectBTF.fd, keyTypeID: objectMap.keyTypeID ?? 0, valueTypeID: valueTypeID)
        do {
            return try Map(spec, options: MapCreateOptions(btf: types))
        } catch let error as BPFError where error.errno == .EINVAL || error.errno == .ENOTSUPP {
            // Some map types refuse BTF types (libbpf retries without them too): fd arrays such as
            // PERF_EVENT_ARRAY and CGROUP_ARRAY answer ENOTSUPP (the kernel's map_check_no_btf).
            return try Map(spec)
        }
    }

    mutating func kconfigValue(valueSize: Int) throws -> [UInt8] {
        let configText: String
        if let text = options.kernelConfig {
            configText = text
        } else {
            var name = utsname()
            uname(&name)
            let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            configText = KernelConfig.read(release: release) ?? ""
        }
        let needsConfig = spec.externs.contains {
            if case .kconfig = $0.kind { return !$0.name.hasPrefix("LINUX_") && !$0.isWeak }
            return false
        }
        if configText.isEmpty && needsConfig {
            throw BPFError.notFound(what: "kernel configuration", detail: "neither /boot/config-$(uname -r) nor /proc/config.gz is readable; .kconfig externs cannot be resolved")
        }
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        // Syscall wrappers (arch-prefixed __<arch>_sys_*) exist since 4.17 on x86-64 and arm64.
        let hasWrapper = (try? kernelBTF()).map { btf in
            !btf.typeIDs(named: "__x64_sys_getpid", kind: .function).isEmpty || !btf.typeIDs(named: "__arm64_sys_getpid", kind: .function).isEmpty
        } ?? false
        // bpf_get_attach_cookie (5.15) exists iff the kernel's enum bpf_func_id names it.
        let hasCookie = (try? kernelBTF()).map { btf in
            btf.typeIDs(named: "bpf_func_id", kind: .enum).contains { id in
                (try? btf.type(id))?.enumerators.contains { $0.name == "BPF_FUNC_get_attach_cookie" } ?? false
            }
        } ?? false
        do {
            return try KconfigValues.mapValue(for: spec.externs, valueSize: valueSize, config: KconfigValues.parse(configText),
                                              kernelVersion: KconfigValues.kernelVersion(release: release), hasSyscallWrapper: hasWrapper,
                                              hasBPFCookie: hasCookie)
        } catch let error as ObjectError {
            throw BPFError.invalidArgument("\(error)")
        }
    }

    // MARK: Programs

    mutating func loadProgram(_ program: ObjectProgramSpec) throws -> Program {
        var spec = program.spec
        // CO-RE first: it rewrites offsets in instructions the other relocations do not touch.
        if let localBTF = self.spec.btf, !program.coreRelocations.isEmpty {
            var session = self
            try ObjectCORE.apply(records: program.coreRelocations, to: &spec.instructions, localBTF: localBTF,
                                 targets: { [try session.kernelBTF()] }, program: program.name)
        }
        for relocation in program.relocations {
            let at = relocation.instructionIndex
            guard at < spec.instructions.count else { continue }
            switch relocation.target {
            case .map(let name), .mapValue(let name, _):
                guard let map = maps[name] else {
                    throw BPFError.notFound(what: "map '\(name)'", detail: "program '\(program.name)' refers to it, but it was not created")
                }
                spec.instructions[at].immediate = try map.fd.value()
            case .kernelVariable(let name):
                let weak = self.spec.externs.first { $0.name == name }?.isWeak ?? false
                let ids = try kernelBTF().typeIDs(named: name, kind: .variable)
                if let id = ids.first {
                    spec.instructions[at].immediate = Int32(bitPattern: id)
                    spec.instructions[at + 1].immediate = 0 // vmlinux: no BTF object fd
                } else if weak {
                    // An absent __weak ksym reads as 0 (a plain 64-bit load of zero).
                    spec.instructions[at].src = 0
                    spec.instructions[at].immediate = 0
                    spec.instructions[at + 1].immediate = 0
                } else {
                    throw BPFError.notFound(what: "kernel variable '\(name)' (__ksym)", detail: "no VAR of that name in /sys/kernel/btf/vmlinux (per-CPU and global variables are there only with CONFIG_DEBUG_INFO_BTF)")
                }
            case .kernelFunctionAddress(let name):
                let weak = self.spec.externs.first { $0.name == name }?.isWeak ?? false
                if let id = try kernelBTF().typeIDs(named: name, kind: .function).first {
                    spec.instructions[at].immediate = Int32(bitPattern: id)
                    spec.instructions[at + 1].immediate = 0
                } else if weak {
                    spec.instructions[at].src = 0
                    spec.instructions[at].immediate = 0
                    spec.instructions[at + 1].immediate = 0
                } else {
                    throw BPFError.notFound(what: "kernel function '\(name)' (kfunc)", detail: "no FUNC of that name in /sys/kernel/btf/vmlinux")
                }
            case .kernelFunction(let name):
                let weak = self.spec.externs.first { $0.name == name }?.isWeak ?? false
                if let id = try kernelBTF().typeIDs(named: name, kind: .function).first {
                    spec.instructions[at].immediate = Int32(bitPattern: id)
                    spec.instructions[at].offset = 0
                } else if weak {
                    // The verifier accepts a call of kfunc 0 only in dead code (bpf_ksym_exists() guards).
                    spec.instructions[at].immediate = 0
                    spec.instructions[at].offset = 0
                } else {
                    throw BPFError.notFound(what: "kernel function '\(name)' (kfunc)", detail: "no FUNC of that name in /sys/kernel/btf/vmlinux")
                }
            }
        }
        if program.section.traits.contains(.attachBTF), program.spec.type != .ext {
            spec.attachBTFID = try attachBTFID(for: program)
        }

        var options = ProgramLoadOptions()
        options.logLevel = self.options.logLevel
        var functionInfo: [UInt8] = []
        var lineInfo: [UInt8] = []
        func append(_ words: [UInt32], to bytes: inout [UInt8]) {
            for word in words { withUnsafeBytes(of: word.littleEndian) { bytes += $0 } }
        }
        if let objectBTF {
            options.programBTFFD = try objectBTF.fd.value()
            for record in program.functionInfo { append([record.instructionByteOffset / 8, record.typeID], to: &functionInfo) }
            for record in program.lineInfo {
                append([record.instructionByteOffset / 8, record.fileNameOffset, record.lineTextOffset, record.lineColumn], to: &lineInfo)
            }
        }
        do {
            return try functionInfo.withUnsafeBytes { functionBuffer in
                try lineInfo.withUnsafeBytes { lineBuffer in
                    if !functionInfo.isEmpty {
                        options.funcInfo = .init(address: UInt64(UInt(bitPattern: functionBuffer.baseAddress)), recordSize: 8, count: UInt32(program.functionInfo.count))
                    }
                    if !lineInfo.isEmpty {
                        options.lineInfo = .init(address: UInt64(UInt(bitPattern: lineBuffer.baseAddress)), recordSize: 16, count: UInt32(program.lineInfo.count))
                    }
                    return try Program(spec, options: options)
                }
            }
        } catch BPFError.verifierRejected(var rejection) {
            rejection.sourceLine = sourceLine(of: program, instruction: rejection.failingInstruction)
            throw BPFError.verifierRejected(rejection)
        }
    }

    /// The C source line (`file:line: text`) of the instruction the verifier stopped at: the
    /// last line-info record at or before it.
    func sourceLine(of program: ObjectProgramSpec, instruction: Int?) -> String? {
        guard let instruction, let btf = spec.btf else { return nil }
        guard let record = program.lineInfo.last(where: { $0.instructionIndex <= instruction }) else { return nil }
        let file = (try? btf.string(at: record.fileNameOffset)) ?? "?"
        let text = ((try? btf.string(at: record.lineTextOffset)) ?? "").trimmingCharacters(in: .whitespaces)
        return "\(file):\(record.line): \(text)"
    }

    /// The kernel BTF id a tp_btf/fentry/fexit/fmod_ret/lsm/iter program attaches to
    /// (`BTFAttachTarget` knows how the kernel names each kind's target).
    mutating func attachBTFID(for program: ObjectProgramSpec) throws -> UInt32 {
        guard !program.attachTarget.isEmpty else {
            throw BPFError.invalidArgument("program '\(program.name)' in section '\(program.sectionName)' names no attach target (expected '\(program.sectionName)/<target>')")
        }
        return try BTFAttachTarget(program.sectionName).typeID(in: kernelBTF())
    }
}

/// Reads the running kernel's configuration.
enum KernelConfig {
    static func read(release: String) -> String? {
        if let text = try? String(contentsOfFile: "/boot/config-\(release)", encoding: .utf8) { return text }
        return GzipFile.read("/proc/config.gz").map { String(decoding: $0, as: UTF8.self) }
    }
}
