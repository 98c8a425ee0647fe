import BPFObject
import Foundation

/// The type of a value in a script: integers are carried as 64-bit registers (signedness kept
/// for printing and comparisons); strings are fixed-size, NUL-padded buffers, as in bpftrace.
public enum TraceValueType: Hashable, Sendable, CustomStringConvertible {
    case integer(signed: Bool)
    case string(size: Int)
    /// `kstack`: a u64 holding the stack id in a stack-trace map of `stack.limit` frames.
    case kernelStack(TraceStack)
    /// `ustack`: a u64, stack id in the low 32 bits and the pid (to symbolise against its
    /// mappings) in the high 32 bits.
    case userStack(TraceStack)
    /// `ksym(addr)`: the u64 kernel address, symbolised when printed.
    case kernelSymbol
    /// `usym(addr)`: 16 bytes, the u64 address and the u64 pid whose mappings symbolise it.
    case userSymbol
    /// A pointer to a struct described by kernel BTF (`(struct task_struct *)curtask`,
    /// `args->rqtp`): a u64 address whose members `->` reads.
    case pointer(TracePointee)
    /// `strftime(fmt, nsecs)`: the u64 nanoseconds since boot, printed with `fmt`.
    case timestamp(format: String)
    /// `buf(ptr, len)`: a u64 length, then `capacity` bytes (8-byte aligned); printed by `%r`
    /// with bpftrace's hex escapes.
    case buffer(capacity: Int)
    /// `ntop([af,] addr)`: bpftrace's inet value, a u64 address family then 16 address bytes
    /// (IPv4 uses the first 4), printed as inet_ntop(3) writes it.
    case inet
    /// `pton("addr")`: the address's bytes in network order (4 for IPv4, 16 for IPv6),
    /// bpftrace's int8 array, printed `[1,2,3,255]` (bytes as unsigned numbers).
    case byteArray(count: Int)
    /// A kernel array of wider integers read whole (`curtask->numa_faults_locality`), printed
    /// `[0,0,0]` as bpftrace prints arrays.
    case integerArray(elementSize: Int, signed: Bool, count: Int)
    /// `macaddr(ptr)`: 6 bytes (in a u64 register, memory order), printed `XX:XX:XX:XX:XX:XX`.
    case macAddress
    /// `(a, b, ...)`: the elements back to back, printed `(a, b)`.
    indirect case tuple([TraceValueType])
    /// `probe`: a u64 index into `CompiledScript.probeNames`, named when printed (bpftrace's
    /// `probe` type: an id, not a string, so it does not compare with strings either).
    case probeName
    /// `username`: the u64 uid, printed as its user name (getpwuid(3)), as bpftrace.
    case userName
    /// `strerror(errno)`: the u64 error number, printed as strerror(3) words it.
    case errorText
    /// `cgroup_path(id[, filter])`: the u64 cgroup id, printed as its paths in the mounted
    /// cgroup hierarchies whose names match `filter`.
    case cgroupPath(filter: String?)

    /// Bytes the value takes in a map key, map value or event record.
    public var storageSize: Int {
        switch self {
        case .integer, .kernelStack, .userStack, .kernelSymbol, .pointer, .timestamp, .macAddress, .userName, .errorText, .cgroupPath, .probeName: 8
        case .inet: 24
        case .byteArray(let count): alignedStringSize(count)
        case .integerArray(let size, _, let count): alignedStringSize(size * count)
        case .string(let size): size
        case .userSymbol: 16
        case .tuple(let elements): elements.reduce(0) { $0 + $1.storageSize }
        case .buffer(let capacity): 8 + alignedStringSize(capacity)
        }
    }

    public var isString: Bool { if case .string = self { true } else { false } }
    /// Integers and pointers: both compute, compare and print as numbers.
    public var isInteger: Bool {
        switch self {
        case .integer, .pointer: true
        default: false
        }
    }
    public var isTuple: Bool { if case .tuple = self { true } else { false } }
    public var isPointer: Bool { if case .pointer = self { true } else { false } }
    /// The value fits a register (r0) rather than living in a stack buffer.
    public var isRegisterValue: Bool {
        if case .byteArray = self { return false }
        if case .integerArray = self { return false }
        return storageSize == 8 && !isString
    }

    public var description: String {
        switch self {
        case .integer(let signed): signed ? "int64" : "uint64"
        case .string(let size): "string[\(size)]"
        case .kernelStack: "kstack"
        case .userStack: "ustack"
        case .kernelSymbol: "ksym"
        case .userSymbol: "usym"
        case .pointer(let pointee): "\(pointee.typeName) *"
        case .timestamp: "timestamp"
        case .buffer(let capacity): "buffer[\(capacity)]"
        case .inet: "inet"
        case .byteArray(let count): "int8[\(count)]"
        case .integerArray(let size, let signed, let count): "\(signed ? "int" : "uint")\(size * 8)[\(count)]"
        case .macAddress: "macaddr"
        case .probeName: "probe"
        case .userName: "username"
        case .errorText: "strerror"
        case .cgroupPath: "cgroup_path"
        case .tuple(let elements): "(" + elements.map(\.description).joined(separator: ", ") + ")"
        }
    }

    /// The type's name in bpftrace's messages.
    var bpftraceName: String {
        switch self {
        case .tuple: "tuple"
        case .buffer: "buffer"
        case .integer(let signed): signed ? "int64" : "uint64"
        case .string: "string"
        default: description
        }
    }

    /// The kind bpftrace names in "(X provided)" argument errors.
    var argumentKindName: String {
        switch self {
        case .integer, .pointer: "integer"
        case .byteArray, .integerArray: "array"
        default: bpftraceName
        }
    }

    /// Same kind of value (sizes and signedness may differ), as map keys and variables require.
    func isCompatible(with other: TraceValueType) -> Bool {
        switch (self, other) {
        case (.integer, .integer), (.string, .string), (.kernelSymbol, .kernelSymbol), (.userSymbol, .userSymbol): true
        case (.kernelStack(let a), .kernelStack(let b)), (.userStack(let a), .userStack(let b)): a == b
        case (.pointer(let a), .pointer(let b)): a == b
        case (.timestamp(let a), .timestamp(let b)): a == b
        case (.buffer, .buffer), (.inet, .inet), (.macAddress, .macAddress), (.userName, .userName), (.errorText, .errorText), (.probeName, .probeName): true
        case (.cgroupPath(let a), .cgroupPath(let b)): a == b
        case (.byteArray(let a), .byteArray(let b)): a == b
        case (.integerArray(let a, let b, let c), .integerArray(let x, let y, let z)): a == x && b == y && c == z
        case (.tuple(let a), .tuple(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.isCompatible(with: $1) }
        case (.pointer, .integer), (.integer, .pointer): true
        default: false
        }
    }
}

/// What a pointer points to, and in which address space it lives: a BTF struct or union
/// (`(struct task_struct *)curtask`, `args->rqtp`), an integer (`(int32 *)p`) or a pointer.
public struct TracePointee: Hashable, Sendable {
    /// The pointed-to type; its size scales pointer arithmetic and `[i]`.
    public var target: TraceCType
    /// User memory (read with bpf_probe_read_user): pointers from syscall arguments and uprobes.
    public var isUser: Bool
    public init(structName: String, isUnion: Bool = false, isUser: Bool) {
        self.target = .record(name: structName, isUnion: isUnion)
        self.isUser = isUser
    }
    public init(target: TraceCType, isUser: Bool) {
        self.target = target
        self.isUser = isUser
    }
    /// The BTF struct or union name (`task_struct`); empty when the target is not a record.
    public var structName: String {
        if case .record(let name, _) = target { return name }
        return ""
    }
    public var isUnion: Bool {
        if case .record(_, let isUnion) = target { return isUnion }
        return false
    }
    public var typeName: String { target.description }
}

/// How a `kstack`/`ustack` is collected and printed: bpftrace's modes and frame limit.
public struct TraceStack: Hashable, Sendable {
    public enum Mode: String, Hashable, Sendable {
        /// One symbol+offset per line, indented.
        case bpftrace
        /// perf's layout: tab, hex address, symbol+offset (and the module for user frames).
        case perf
    }
    public var mode: Mode
    /// Frames kept (bpftrace's default 127, the kernel's perf_event_max_stack default).
    public var limit: Int
    public init(mode: Mode = .bpftrace, limit: Int = 127) {
        self.mode = mode
        self.limit = limit
    }
}

/// What a map holds: plain values or one of bpftrace's aggregations.
public enum TraceMapKind: Hashable, Sendable {
    case value(TraceValueType)
    case count
    case sum(signed: Bool)
    /// Value: [value, set] (two u64); `set` is 1 once this CPU stored a value (a per-CPU
    /// element's other CPUs start zeroed, and 0 must not win a min).
    case min(signed: Bool)
    case max(signed: Bool)
    /// Value: [sum, count] (two u64); `avg` prints sum/count, `stats` all three.
    case avg
    case stats
    /// Key gets an 8-byte bucket index appended; value is a u64 count.
    case hist
    case lhist(min: Int64, max: Int64, step: Int64)

    var valueSize: Int {
        switch self {
        case .value(let type): type.storageSize
        case .avg, .stats, .min, .max: 16
        default: 8
        }
    }

    var isHistogram: Bool {
        switch self {
        case .hist, .lhist: true
        default: false
        }
    }

    /// The name bpftrace uses in type-mismatch errors.
    var functionName: String {
        switch self {
        case .value(let type): type.description
        case .count: "count"
        case .sum: "sum"
        case .min: "min"
        case .max: "max"
        case .avg: "avg"
        case .stats: "stats"
        case .hist: "hist"
        case .lhist: "lhist"
        }
    }
}

/// One map of a compiled script: its name in the script (`@` for the anonymous map), key parts
/// and kind. Map index in `CompiledScript.maps` is the index used by `lddw rX, map_idx`.
public struct TraceMap: Hashable, Sendable {
    public var name: String
    public var keyTypes: [TraceValueType]
    public var kind: TraceMapKind

    /// Keyless maps use one 8-byte zero key, as bpftrace does.
    public var keySize: Int {
        let size = keyTypes.reduce(0) { $0 + $1.storageSize }
        return max(8, size) + (kind.isHistogram ? 8 : 0)
    }

    /// Bytes of the script's own key parts (without the histogram bucket).
    var scriptKeySize: Int { max(8, keyTypes.reduce(0) { $0 + $1.storageSize }) }

    /// Aggregations keep one value per CPU, as bpftrace's per-CPU hash maps do: no cache line
    /// bounces between CPUs; user space merges the CPUs' shares when printing
    /// (`TraceSession.mergeCPUs`). Histograms and plain values are shared.
    public var isPerCPU: Bool {
        switch kind {
        case .count, .sum, .min, .max, .avg, .stats: true
        default: false
        }
    }

    public func spec(maxEntries: Int) -> MapSpec {
        let kernelName = String(("AT_" + name.dropFirst()).prefix(15))
        return MapSpec(name: kernelName, type: isPerCPU ? .percpuHash : .hash, keySize: UInt32(keySize), valueSize: UInt32(kind.valueSize), maxEntries: UInt32(maxEntries))
    }
}

/// A printf (or other formatted output) call: its format and the types of its packed arguments.
public struct TraceFormat: Hashable, Sendable {
    public var format: String
    public var argumentTypes: [TraceValueType]
    /// What the runtime does with the formatted text.
    public var action: TraceFormatAction = .print
}

/// printf-style calls differ only in what happens to the formatted text.
public enum TraceFormatAction: Hashable, Sendable {
    /// printf(): written to the output.
    case print
    /// system(): run by /bin/sh, its standard output written (needs --unsafe).
    case system
    /// cat(): the named file's contents written.
    case cat
    /// print(value) of a non-map value: the one argument alone on a line (`-f json`: a
    /// `{"type": "value", ...}` event).
    case value
}

/// How a probe attaches; resolved from its attach point during compilation.
public enum TraceAttachment: Hashable, Sendable {
    case begin
    case end
    case tracepoint(category: String, name: String)
    case rawTracepoint(name: String)
    /// `interval:` fires on one CPU every `nanoseconds`.
    case interval(nanoseconds: UInt64)
    /// `profile:` fires on every CPU, `hertz` times a second.
    case profile(hertz: UInt64)
    /// `software:`, `hardware:` and `profile:s|ms|us:`: a perf event (`perf_event_attr.type` and
    /// `.config`) sampled on every CPU once per `period` events (nanoseconds for cpu-clock).
    case perfEvent(type: UInt32, config: UInt64, period: UInt64)
    /// `watchpoint:ADDRESS:LENGTH:MODE`: a hardware breakpoint (`access`: HW_BREAKPOINT_* bits)
    /// in the traced process (`-p`/`-c`), or in every process when there is none.
    case watchpoint(address: UInt64, length: Int, access: UInt32)
    /// `kprobe:function[+offset]` / `kretprobe:function`.
    case kprobe(function: String, offset: UInt64, isReturn: Bool)
    /// `kfunc:function` / `kretfunc:function` (fentry/fexit): a tracing program loaded for the
    /// vmlinux BTF function `btfID`.
    case kfunc(function: String, btfID: UInt32, isReturn: Bool)
    /// `uprobe:binary:function[+offset]` / `uretprobe:` (also `uprobe:binary:address`).
    case uprobe(binary: String, function: String, offset: UInt64, address: UInt64, isReturn: Bool)
    /// `usdt:binary:provider:name`: a uprobe at each of the probe's sites (file offsets), each
    /// counting its semaphore (`ref_ctr_offset`, 0 for none) while attached.
    case usdt(binary: String, fileOffsets: [UInt64], semaphoreOffsets: [UInt64])
}

/// One loadable program: a probe's body compiled for one attachment.
public struct CompiledProbe: Sendable {
    public var name: String
    public var attachment: TraceAttachment
    public var programType: ProgramType
    public var instructions: [Instruction]
    /// For each instruction, the source range of the statement it was generated for; used to
    /// point verifier complaints at the script.
    public var sourceRanges: [SourceRange?]
    /// Indices of `lddw` instructions whose 64-bit immediate the loader sets to the session's
    /// start time (CLOCK_MONOTONIC ns, the clock of bpf_ktime_get_ns), for `elapsed`.
    public var startTimeSlots: [Int] = []
    /// Indices of `lddw` instructions that get the `-c` child's pid, for `cpid`.
    public var childProcessSlots: [Int] = []
    /// First instructions of the callback subprograms after the program's own `exit` (for
    /// `len()`); a program with any needs `CallbackFunctionInfo` at load.
    public var callbackStarts: [Int] = []

    public init(name: String, attachment: TraceAttachment, programType: ProgramType, instructions: [Instruction],
                sourceRanges: [SourceRange?], startTimeSlots: [Int] = [], childProcessSlots: [Int] = []) {
        self.name = name
        self.attachment = attachment
        self.programType = programType
        self.instructions = instructions
        self.sourceRanges = sourceRanges
        self.startTimeSlots = startTimeSlots
        self.childProcessSlots = childProcessSlots
    }

    /// The instructions with the start time and child pid filled in.
    public func instructions(startTime: UInt64, childProcessID: Int32? = nil) -> [Instruction] {
        var result = instructions
        func patch(_ slots: [Int], _ value: UInt64) {
            for index in slots where index + 1 < result.count {
                result[index].immediate = Int32(bitPattern: UInt32(truncatingIfNeeded: value))
                result[index + 1].immediate = Int32(bitPattern: UInt32(truncatingIfNeeded: value >> 32))
            }
        }
        patch(startTimeSlots, startTime)
        patch(childProcessSlots, UInt64(childProcessID ?? 0))
        return result
    }
}

/// The whole script, ready to load: programs, the maps they index (`maps[i]` is fd_array[i + 1];
/// fd_array[0] is the event ring buffer), and the formats of the events they send.
public struct CompiledScript: Sendable {
    public var probes: [CompiledProbe]
    public var maps: [TraceMap]
    public var formats: [TraceFormat]
    public var warnings: [Diagnostic]
    /// Frame limits of the BPF_MAP_TYPE_STACK_TRACE maps `kstack`/`ustack` use, one map per
    /// limit; they follow the script maps in the fd array (`fd_array[1 + maps.count + i]`).
    public var stackMapLimits: [Int] = []
    /// The names `probe` values index (one per expanded attach point, in attach order).
    public var probeNames: [String] = []
    /// Events the ring buffer had no room for are counted in a one-element u64 array after the
    /// stack maps (`fd_array[1 + maps.count + stackMapLimits.count]`).
}

/// Event records start with a u64 identifier: a format index, or one of these. They are small
/// negative numbers so that one BPF store of a sign-extended 32-bit immediate writes them.
public enum TraceEventID {
    public static let exit: UInt64 = 0xFFFF_FFFF_FFFF_FF01
    /// `print(@map)`: followed by a u64 map index.
    public static let printMap: UInt64 = 0xFFFF_FFFF_FFFF_FF02
    public static let clearMap: UInt64 = 0xFFFF_FFFF_FFFF_FF03
    public static let zeroMap: UInt64 = 0xFFFF_FFFF_FFFF_FF04
    /// `time(fmt)`: followed by a u64 format index.
    public static let time: UInt64 = 0xFFFF_FFFF_FFFF_FF05
    /// `join(argv, sep)`: u64 separator format index, u64 number of string slots (printed up to
    /// the first empty one), then
    /// `TraceEventID.joinArguments` strings of `joinArgumentSize` bytes each.
    public static let join: UInt64 = 0xFFFF_FFFF_FFFF_FF06
    /// `unwatch(addr)`: followed by the u64 address whose watchpoints to detach.
    public static let unwatch: UInt64 = 0xFFFF_FFFF_FFFF_FF07
    /// bpftrace reads at most 16 elements of the array (its join_argnum).
    public static let joinArguments = 16
    public static let joinArgumentSize = 256
}

/// Where a tracepoint's record layout comes from; the runtime reads tracefs, tests pass formats.
public protocol TracepointFormatSource {
    func format(category: String, name: String) throws -> TracepointFormat
    /// The tracepoints whose `category:name` match the shell glob `pattern`, for wildcard probes
    /// such as `tracepoint:syscalls:sys_enter_open*`.
    func tracepoints(matching pattern: String) throws -> [(category: String, name: String)]
}

extension TracepointFormatSource {
    /// Sources that cannot enumerate tracepoints expand nothing.
    public func tracepoints(matching pattern: String) throws -> [(category: String, name: String)] { [] }
}

/// Settings that change code generation (bpftrace's environment variables).
public struct TraceCompileOptions: Sendable {
    /// BPFTRACE_STRLEN: size of `str()` buffers (bpftrace's default 64; capped at 200 by bpftrace).
    public var stringLength: Int = 64
    /// Positional parameters `$1`...
    public var positionalParameters: [String] = []
    /// `-c CMD` was given, so `cpid` is meaningful.
    public var hasChildCommand = false
    /// `--unsafe`: allow system().
    public var unsafe = false
    /// `kaddr("name")`: a kernel symbol's address (from /proc/kallsyms), nil when unknown.
    public var kernelSymbolAddress: (@Sendable (String) -> UInt64?)?
    /// `uaddr("name")` in a uprobe: the address of a data symbol in `binary`, nil when unknown.
    public var userSymbolAddress: (@Sendable (_ binary: String, _ symbol: String) -> UInt64?)?
    /// Reads a header file for `#include` (nil when it does not exist); without it only the
    /// script's own `#define`s are known.
    public var readHeader: (@Sendable (String) -> String?)?
    /// Why kprobes cannot be attached on this machine (no CONFIG_KPROBES), or nil when they can;
    /// asked before anything is loaded so such scripts fail early with the reason.
    public var kprobesUnavailable: (@Sendable () -> String?)?
    /// The function symbols of a uprobe's `binary`, for wildcard uprobes (`uprobe:libc:str*`);
    /// nil when the binary cannot be found or read.
    public var userFunctionNames: (@Sendable (_ binary: String) -> [String]?)?
    /// `-p PID`: `usdt:` binaries and libraries are looked up in this process.
    public var processID: Int32?

    public init(stringLength: Int = 64, positionalParameters: [String] = []) {
        self.stringLength = stringLength
        self.positionalParameters = positionalParameters
    }
}
