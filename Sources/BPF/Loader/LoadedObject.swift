import BPFObject
import Foundation

/// A loaded object: its maps and programs, alive as long as this value (or pins and links).
public final class LoadedObject: @unchecked Sendable {
    public let spec: ObjectSpec
    /// The object's BTF in the kernel (nil when the object has none or the kernel refused it).
    public let btf: LoadedBTF?
    public let maps: [String: Map]
    public let programs: [String: Program]
    /// Things that did not stop the load but changed it (e.g. BTF dropped).
    public let warnings: [String]
    private let mappingLock = NSLock()
    private var mappings: [String: GlobalDataMapping] = [:]
    /// Slots of the `__bpf_usdt_specs` map handed to USDT attaches (usdt.bpf.h).
    let usdtSpecIDs = USDTSpecIDAllocator()
    /// The struct_ops tables and their map values, ready for `attachStructOps`.
    var structOpsValues: [String: (ObjectStructOps, [UInt8])] = [:]

    init(spec: ObjectSpec, btf: LoadedBTF?, maps: [String: Map], programs: [String: Program], warnings: [String]) {
        self.spec = spec
        self.btf = btf
        self.maps = maps
        self.programs = programs
        self.warnings = warnings
    }

    public func map(named name: String) throws -> Map {
        guard let map = maps[name] else {
            throw BPFError.notFound(what: "map '\(name)'", detail: "the object has: \(maps.keys.sorted().joined(separator: ", "))")
        }
        return map
    }

    public func program(named name: String) throws -> Program {
        guard let program = programs[name] else {
            throw BPFError.notFound(what: "program '\(name)'", detail: "loaded programs: \(programs.keys.sorted().joined(separator: ", "))")
        }
        return program
    }

    /// The map holding a global variable, and the variable.
    func storage(of name: String) throws -> (Map, ObjectVariable) {
        guard let variable = spec.variable(named: name) else {
            throw BPFError.notFound(what: "global variable '\(name)'", detail: "the object has: \(spec.variables.map(\.name).joined(separator: ", "))")
        }
        return (try map(named: variable.mapName), variable)
    }

    /// The section's memory mapping, made on first use and kept (like a skeleton's `bss`).
    func mapping(of map: Map, writable: Bool) throws -> GlobalDataMapping {
        mappingLock.lock()
        defer { mappingLock.unlock() }
        if let existing = mappings[map.name], existing.writable || !writable { return existing }
        let mapping = try GlobalDataMapping(map: map, writable: writable)
        mappings[map.name] = mapping
        return mapping
    }

    /// The current bytes of a global variable, read through the section's memory mapping.
    public func readGlobal(_ name: String) throws -> [UInt8] {
        let (map, variable) = try storage(of: name)
        let writable = !variable.sectionName.hasPrefix(".rodata")
        return try mapping(of: map, writable: writable).read(offset: Int(variable.offset), count: Int(variable.size))
    }

    /// A global variable as a plain value of its size.
    public func global<Value: BitwiseCopyable>(_ name: String, as type: Value.Type = Value.self) throws -> Value {
        let bytes = try readGlobal(name)
        guard bytes.count == MemoryLayout<Value>.size else {
            throw BPFError.invalidArgument("global '\(name)' is \(bytes.count) bytes, \(Value.self) is \(MemoryLayout<Value>.size)")
        }
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: Value.self) }
    }

    /// Writes a global in `.data` or `.bss` (`.rodata` is frozen) through the memory mapping.
    public func writeGlobal(_ name: String, _ bytes: [UInt8]) throws {
        let (map, variable) = try storage(of: name)
        guard bytes.count == Int(variable.size) else {
            throw BPFError.invalidArgument("global '\(name)' is \(variable.size) bytes, got \(bytes.count)")
        }
        guard !variable.sectionName.hasPrefix(".rodata") else {
            throw BPFError.invalidArgument("global '\(name)' is in \(variable.sectionName), which is frozen after load; set it with ObjectLoader.setGlobal before load")
        }
        try mapping(of: map, writable: true).write(bytes, at: Int(variable.offset))
    }
}
