/// A compiled BPF object (clang `-target bpf` output) decoded into plain values, following
/// libbpf's conventions: one program per function symbol in each executable section (with the
/// `.text` subprograms it calls appended), BTF-defined and legacy maps, global data sections
/// as single-entry array maps, `.kconfig`/`__ksym` externs, and per-program relocations that
/// the loader resolves against live maps and kernel BTF.
///
/// Pure: nothing here talks to the kernel. Every malformed input is a thrown `ObjectError`.
public struct ObjectSpec: Sendable {
    /// The object name libbpf would use: the file's base name up to its first `.`.
    public var name: String
    public var license: String
    /// The `version` section (only old kernels check it, for kprobes).
    public var kernelVersion: UInt32
    /// The object's BTF with data section sizes and variable offsets filled in and externs made
    /// loadable (as libbpf does before loading it), or nil without `.BTF`.
    public var btf: BTF?
    public var btfExt: BTFExt?
    public var maps: [ObjectMapSpec]
    public var programs: [ObjectProgramSpec]
    /// Global variables of the data sections (`.data`, `.rodata`, `.bss`, `.data.*`, ...).
    public var variables: [ObjectVariable]
    public var externs: [ObjectExtern]
    /// Kernel operation tables from `.struct_ops` / `.struct_ops.link` (see `ObjectStructOps`).
    public var structOps: [ObjectStructOps] = []

    public func program(named name: String) -> ObjectProgramSpec? { programs.first { $0.name == name } }
    public func map(named name: String) -> ObjectMapSpec? { maps.first { $0.name == name } }
    public func variable(named name: String) -> ObjectVariable? { variables.first { $0.name == name } }

    /// libbpf's object name for a file path: base name, cut at the first `.`
    /// (`/tmp/hello.bpf.o` → `hello`).
    public static func objectName(forPath path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        return String(base.prefix { $0 != "." })
    }

    init(name: String, license: String, kernelVersion: UInt32, btf: BTF?, btfExt: BTFExt?, maps: [ObjectMapSpec],
         programs: [ObjectProgramSpec], variables: [ObjectVariable], externs: [ObjectExtern]) {
        self.name = name
        self.license = license
        self.kernelVersion = kernelVersion
        self.btf = btf
        self.btfExt = btfExt
        self.maps = maps
        self.programs = programs
        self.variables = variables
        self.externs = externs
    }

    /// Decodes the object in `bytes`. `name` is the object name (see `objectName(forPath:)`);
    /// it prefixes the internal map names (`<name>.rodata`).
    public init(elf bytes: [UInt8], name: String = "obj") throws {
        let parser = try ObjectParser(bytes: bytes, name: name)
        self = try parser.parse()
    }

    /// Decodes the object, also turning functions of `.text` into programs: `textEntryPoints`
    /// maps a function name to the section name it is treated as (`tracepoint`,
    /// `raw_tracepoint/sys_enter`, `kprobe/do_sys_open`). This is how sources written without
    /// `SEC()` (BCC's style) load: the caller decides each function's program type.
    public init(elf bytes: [UInt8], name: String = "obj", textEntryPoints: [String: String]) throws {
        var parser = try ObjectParser(bytes: bytes, name: name)
        parser.textEntryPoints = textEntryPoints
        self = try parser.parse()
    }

    /// The global functions of `.text` (candidates for `textEntryPoints`), in address order.
    public static func textFunctions(elf bytes: [UInt8]) throws -> [String] {
        do {
            let elf = try ELFFile(bytes: bytes)
            guard let text = elf.section(named: ".text") else { return [] }
            return try elf.symbols()
                .filter { Int($0.sectionIndex) == text.index && $0.type == .function && $0.binding == .global && $0.size > 0 }
                .sorted { $0.value < $1.value }
                .map(\.name)
        } catch let error as ELFError {
            throw ObjectError.elf(error)
        }
    }
}

/// One map of an object.
public struct ObjectMapSpec: Sendable, Hashable {
    /// The map's name in the object (the kernel keeps the first 15 bytes).
    public var name: String
    public var spec: MapSpec
    public var kind: Kind
    /// The ELF section the definition came from (`.maps`, `maps`, `.rodata`, ...).
    public var sectionName: String
    /// For data sections: the section's bytes (zeros for `.bss`), written before programs load.
    public var initialValue: [UInt8]?
    public var pinning: Pinning
    /// BTF type ids (in the object's BTF) of key and value, when known.
    public var keyTypeID: UInt32?
    public var valueTypeID: UInt32?
    /// For map-in-map and program arrays: slots filled from relocations in `.maps`
    /// (`.values = { [2] = &inner }`).
    public var initialSlots: [InitialSlot]

    /// What declared the map: a BTF map definition, a legacy `bpf_map_def`, or a data section.
    public enum Kind: Hashable, Sendable {
        /// `struct { __uint(type, ...); ... } name SEC(".maps")`.
        case btfDefined
        /// `struct bpf_map_def name SEC("maps")`.
        case legacy
        /// A global data section (`.data`, `.rodata`, `.bss`, `.data.*`, `.rodata.*`).
        case data
        /// The `.kconfig` externs' values, computed at load time.
        case kconfig
    }

    /// `LIBBPF_PIN_NONE` = 0, `LIBBPF_PIN_BY_NAME` = 1.
    public enum Pinning: UInt32, Hashable, Sendable {
        case none = 0
        case byName = 1
    }

    /// A slot of a map-in-map or program array filled at load from the object's initialiser.
    public struct InitialSlot: Hashable, Sendable {
        public var index: UInt32
        public var target: Target
        public init(index: UInt32, target: Target) {
            self.index = index
            self.target = target
        }
        /// What the slot holds.
        public enum Target: Hashable, Sendable {
            case map(String)
            case program(String)
        }
    }

    /// Read-only for programs and frozen after its initial value is written (`.rodata*`, `.kconfig`).
    public var isReadOnly: Bool {
        kind == .kconfig || (kind == .data && sectionName.hasPrefix(".rodata"))
    }
}

/// One program (entry function) of an object, linked with the subprograms it calls.
public struct ObjectProgramSpec: Sendable, Hashable {
    public var name: String
    public var sectionName: String
    public var section: SectionDefinition
    /// Instructions with map, data, call and extern relocations applied where the object alone
    /// decides them; the rest is listed in `relocations` for the loader.
    public var spec: ProgramSpec
    public var relocations: [ObjectRelocation]
    /// `.BTF.ext` records for the linked program, byte offsets from its first instruction.
    public var functionInfo: [BTFExt.FunctionInfo]
    public var lineInfo: [BTFExt.LineInfo]
    public var coreRelocations: [CORERelocationRecord]
    /// Names of the functions appended after the entry function, in order.
    public var subprograms: [String]
    /// Whether the loader loads it (libbpf's `bpf_program__set_autoload`).
    public var autoload: Bool

    /// The section suffix naming the attach target (`syscalls/sys_enter_openat`).
    public var attachTarget: String { section.target(of: sectionName) }
}

/// A relocation the loader resolves: which instruction, and what it must refer to.
public struct ObjectRelocation: Hashable, Sendable {
    /// Index of the (first slot of the) instruction in the linked program.
    public var instructionIndex: Int
    public var target: Target

    /// What the instruction refers to.
    public enum Target: Hashable, Sendable {
        /// `lddw` of a map: the loader writes the map's fd (`src` = BPF_PSEUDO_MAP_FD).
        case map(String)
        /// `lddw` of an address in a map's value (global data, `.kconfig`): the offset is already
        /// in the second slot; the loader writes the fd (`src` = BPF_PSEUDO_MAP_VALUE).
        case mapValue(map: String, offset: UInt32)
        /// `lddw` of a kernel variable (`__ksym`): BTF id + BTF object fd (`src` = BPF_PSEUDO_BTF_ID).
        case kernelVariable(String)
        /// `call` of a kernel function (kfunc): BTF id (`src` = BPF_PSEUDO_KFUNC_CALL).
        case kernelFunction(String)
        /// `lddw` of a kfunc's address (`bpf_ksym_exists(kfunc)`): its BTF FUNC id
        /// (`src` = BPF_PSEUDO_BTF_ID), or 0 when a `__weak` kfunc is absent.
        case kernelFunctionAddress(String)
    }
}

/// A global variable in a data section.
public struct ObjectVariable: Hashable, Sendable {
    public var name: String
    /// `.data`, `.rodata`, `.bss`, ...
    public var sectionName: String
    /// The internal map holding the section.
    public var mapName: String
    public var offset: UInt32
    public var size: UInt32
    /// Its type in the object's BTF, when there is BTF.
    public var typeID: UInt32?
}

/// An `extern` the loader must supply.
public struct ObjectExtern: Hashable, Sendable {
    public var name: String
    public var kind: Kind
    /// `__weak`: may be absent (then it reads as 0 / its kfunc calls must be dead code).
    public var isWeak: Bool
    /// The extern's VAR or FUNC type id in the object's BTF.
    public var typeID: UInt32

    public init(name: String, kind: Kind, isWeak: Bool, typeID: UInt32) {
        self.name = name
        self.kind = kind
        self.isWeak = isWeak
        self.typeID = typeID
    }

    /// What the extern is.
    public enum Kind: Hashable, Sendable {
        /// `extern ... __kconfig`: a value in the `.kconfig` map at `offset`, `size` bytes.
        case kconfig(offset: UInt32, size: UInt32, valueKind: KconfigValueKind)
        /// `extern ... __ksym` variable.
        case kernelVariable
        /// `extern ... __ksym` function (kfunc).
        case kernelFunction
    }

    /// How a `.kconfig` value is stored, from its C type (libbpf's rules).
    public enum KconfigValueKind: Hashable, Sendable {
        /// `bool`: y/m → 1.
        case bool
        /// `enum libbpf_tristate` (or an enum named so): n=0, y=1, m=2.
        case tristate
        /// `char` of size 1: the letter y/n/m.
        case char
        /// An integer of `size` bytes, `signed` or not.
        case integer(signed: Bool)
        /// `char[N]`: a quoted string.
        case string
    }
}
