/// Why a skeleton could not be generated.
public enum SkeletonError: Error, Equatable, CustomStringConvertible {
    case noBTF
    case unknownEventType(String)
    case unsupportedType(UInt32, String)
    case typeTooDeep(UInt32)
    case invalidName(String)

    public var description: String {
        switch self {
        case .noBTF: "the object has no BTF (.BTF section); compile it with -g to generate typed accessors"
        case .unknownEventType(let name): "no struct, union or typedef named '\(name)' in the object's BTF"
        case .unsupportedType(let id, let why): "BTF type [\(id)] cannot be represented in Swift: \(why)"
        case .typeTooDeep(let id): "BTF type [\(id)] nests deeper than \(BTF.maxResolveDepth) levels"
        case .invalidName(let name): "'\(name)' is not a valid Swift type name for a skeleton"
        }
    }
}

/// Generates Swift source for a typed skeleton of a BPF object, the Swift counterpart of
/// `bpftool gen skeleton`: `<Name>Skeleton.open()` → `Opened` (set `.rodata` values, map sizes,
/// autoload) → `load()` → `Loaded` (typed maps, globals, programs) → `attach()` → `Attached`
/// (owns the links). Each stage is its own type, so using a stage too early does not compile.
public struct SkeletonGenerator {
    public var objectBytes: [UInt8]
    /// The object's name (libbpf's: the file name up to the first dot).
    public var name: String
    /// BTF struct types that programs submit to ring buffers (not discoverable from map types).
    public var eventTypes: [String]
    /// When set, the object is read from this path at run time instead of being embedded.
    public var objectPath: String?

    public init(objectBytes: [UInt8], name: String, eventTypes: [String] = [], objectPath: String? = nil) {
        self.objectBytes = objectBytes
        self.name = name
        self.eventTypes = eventTypes
        self.objectPath = objectPath
    }

    /// `my_prog` → `MyProg`.
    public static func typeName(forObject name: String) -> String {
        name.split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    public func generate() throws -> String {
        let spec = try ObjectSpec(elf: objectBytes, name: name)
        guard let btf = spec.btf else { throw SkeletonError.noBTF }
        let skeleton = Self.typeName(forObject: name) + "Skeleton"
        guard SwiftIdentifier.isPlain(skeleton), let first = skeleton.first, !first.isNumber else { throw SkeletonError.invalidName(skeleton) }
        var types = SwiftTypeEmitter(btf: btf, helper: "\(skeleton).Layout")

        // Maps the user sees (data sections are reached through their variables instead).
        let userMaps = spec.maps.filter { ($0.kind == .btfDefined || $0.kind == .legacy) && SwiftIdentifier.isPlain($0.name) }
        var mapViews: [(name: String, type: String, make: String)] = []
        for map in userMaps {
            let key = try map.keyTypeID.flatMap { try types.swiftType($0) }
            let value = try map.valueTypeID.flatMap { try types.swiftType($0) }
            let member = SwiftIdentifier.member(map.name)
            let open = "object.map(named: \"\(map.name)\")"
            let type = map.spec.type
            if let key, let value, type == .hash || type == .lruHash {
                mapViews.append((member, "HashMap<\(key), \(value)>", "try HashMap(\(open))"))
            } else if let key, let value, type == .percpuHash || type == .lruPercpuHash {
                mapViews.append((member, "PerCPUHashMap<\(key), \(value)>", "try PerCPUHashMap(\(open))"))
            } else if let value, type == .array {
                mapViews.append((member, "ArrayMap<\(value)>", "try ArrayMap(\(open))"))
            } else if let value, type == .percpuArray {
                mapViews.append((member, "PerCPUArrayMap<\(value)>", "try PerCPUArrayMap(\(open))"))
            } else {
                mapViews.append((member, "Map", "try \(open)"))
            }
        }

        var eventSwiftTypes: [String] = []
        for eventName in eventTypes {
            let candidates = btf.typeIDs(named: eventName).filter { id in
                guard let kind = try? btf.kind(of: id) else { return false }
                return kind == .struct || kind == .union || kind == .typedef
            }
            guard let id = candidates.first, let swift = try types.swiftType(id) else { throw SkeletonError.unknownEventType(eventName) }
            eventSwiftTypes.append(swift)
        }

        // Global variables by section, with their Swift types.
        struct Global { var name: String; var swift: String; var offset: Int }
        struct Section { var name: String; var member: String; var typeName: String; var readOnly: Bool; var initialized: Bool; var globals: [Global] }
        var sections: [Section] = []
        for map in spec.maps where map.kind == .data {
            var globals: [Global] = []
            for variable in spec.variables where variable.mapName == map.name && SwiftIdentifier.isPlain(variable.name) {
                let swift = try variable.typeID.flatMap { try types.swiftType($0) } ?? types.byteTuple(Int(variable.size))
                guard let swift else { continue }
                globals.append(Global(name: variable.name, swift: swift, offset: Int(variable.offset)))
            }
            guard !globals.isEmpty else { continue }
            let base = map.sectionName.dropFirst().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).joined(separator: "_")
            sections.append(Section(name: map.name, member: SwiftIdentifier.member(base), typeName: Self.typeName(forObject: base) + "Section",
                                    readOnly: map.isReadOnly, initialized: map.initialValue != nil, globals: globals))
        }
        let programs = spec.programs.filter { SwiftIdentifier.isPlain($0.name) }
        let ringBuffers = userMaps.filter { $0.spec.type == .ringbuf }

        var out: [String] = []
        func line(_ text: String = "") { out.append(text) }
        line("// Generated by `swiftbpf gen skeleton` from the BPF object '\(name)'. Do not edit.")
        line("import BPF")
        line("import BPFObject")
        line("import Foundation")
        line()
        line("/// Typed access to the BPF object '\(name)': `open()` → `load()` → `attach()`.")
        line("struct \(skeleton) {")
        line("    static let objectName = \"\(name)\"")
        if let objectPath {
            line("    static let objectPath = \"\(objectPath.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"")
            line("    /// The object file, read at run time.")
            line("    static func objectBytes() throws -> [UInt8] {")
            line("        guard let data = FileManager.default.contents(atPath: objectPath) else {")
            line("            throw BPFError.notFound(what: \"BPF object file\", detail: \"cannot read \\(objectPath)\")")
            line("        }")
            line("        return [UInt8](data)")
            line("    }")
        } else {
            line("    /// The object file, embedded (base64: a large integer array literal is slow to type-check).")
            line("    static func objectBytes() throws -> [UInt8] { [UInt8](Data(base64Encoded: objectBase64)!) }")
            line("    private static let objectBase64 = \"\(Base64.encode(objectBytes))\"")
        }
        line()
        line("    /// Swift size and BTF size of every generated type; `open()` refuses to run if any differ.")
        line("    static let layoutChecks: [(name: String, swiftSize: Int, btfSize: Int)] = [")
        for (typeName, size) in types.emitted { line("        (\"\(typeName)\", MemoryLayout<\(typeName)>.size, \(size)),") }
        line("    ]")
        line()
        line("    /// Parses the object; nothing reaches the kernel until `load()`.")
        line("    static func open() throws -> Opened {")
        line("        for check in layoutChecks where check.swiftSize != check.btfSize {")
        line("            throw BPFError.invalidArgument(\"generated type \\(check.name) is \\(check.swiftSize) bytes in Swift but \\(check.btfSize) in BTF\")")
        line("        }")
        line("        let spec: ObjectSpec")
        line("        do { spec = try ObjectSpec(elf: objectBytes(), name: objectName) }")
        line("        catch let error as ObjectError { throw BPFError.invalidArgument(\"\\(objectName): \\(error)\") }")
        line("        return Opened(spec: spec)")
        line("    }")
        line()

        // Opened
        line("    /// Before load: initial values of globals, map sizes, which programs load.")
        line("    struct Opened {")
        line("        private(set) var spec: ObjectSpec")
        for section in sections where section.initialized { line("        /// Initial values of `\(section.name)`, written into the map at load.") ; line("        var \(section.member): \(section.typeName)") }
        line("        /// max_entries of each map.")
        line("        var maxEntries: MaxEntries")
        line("        /// Whether each program is loaded.")
        line("        var autoload: Autoload")
        line()
        line("        init(spec: ObjectSpec) {")
        line("            self.spec = spec")
        for section in sections where section.initialized {
            line("            \(section.member) = \(section.typeName)(initialBytes: spec.map(named: \"\(section.name)\")?.initialValue ?? [])")
        }
        line("            maxEntries = MaxEntries(spec: spec)")
        line("            autoload = Autoload(spec: spec)")
        line("        }")
        line()
        line("        /// Creates the maps and loads the programs.")
        line("        func load(options: ObjectLoadOptions = ObjectLoadOptions()) throws -> Loaded {")
        line("            var spec = self.spec")
        for map in userMaps {
            line("            if let index = spec.maps.firstIndex(where: { $0.name == \"\(map.name)\" }) { spec.maps[index].spec.maxEntries = maxEntries.\(SwiftIdentifier.member(map.name)) }")
        }
        for program in programs {
            line("            if let index = spec.programs.firstIndex(where: { $0.name == \"\(program.name)\" }) { spec.programs[index].autoload = autoload.\(SwiftIdentifier.member(program.name)) }")
        }
        line("            let loader = ObjectLoader(spec: spec, options: options)")
        for section in sections where section.initialized {
            for global in section.globals {
                line("            try loader.setGlobal(\"\(global.name)\", to: \(section.member).\(SwiftIdentifier.member(global.name)))")
            }
        }
        line("            return try Loaded(object: loader.load())")
        line("        }")
        line("    }")
        line()
        line("    struct MaxEntries {")
        for map in userMaps { line("        var \(SwiftIdentifier.member(map.name)): UInt32") }
        line("        init(spec: ObjectSpec) {")
        for map in userMaps { line("            \(SwiftIdentifier.member(map.name)) = spec.map(named: \"\(map.name)\")?.spec.maxEntries ?? \(map.spec.maxEntries)") }
        line("        }")
        line("    }")
        line()
        line("    struct Autoload {")
        for program in programs { line("        var \(SwiftIdentifier.member(program.name)): Bool") }
        line("        init(spec: ObjectSpec) {")
        for program in programs { line("            \(SwiftIdentifier.member(program.name)) = spec.program(named: \"\(program.name)\")?.autoload ?? true") }
        line("        }")
        line("    }")
        line()

        for section in sections where section.initialized {
            line("    /// The variables of `\(section.name)` before load.")
            line("    struct \(section.typeName) {")
            for global in section.globals { line("        var \(SwiftIdentifier.member(global.name)): \(global.swift)") }
            line("        init(initialBytes bytes: [UInt8]) {")
            for global in section.globals {
                line("            \(SwiftIdentifier.member(global.name)) = Layout.load(\(global.swift).self, from: bytes, at: \(global.offset))")
            }
            line("        }")
            line("    }")
            line()
        }

        // Loaded
        line("    /// After load: typed maps, globals and programs.")
        line("    struct Loaded {")
        line("        let object: LoadedObject")
        for view in mapViews { line("        let \(view.name): \(view.type)") }
        for section in sections { line("        var \(section.member): Live\(section.typeName) { Live\(section.typeName)(object: object) }") }
        line("        var programs: Programs { Programs(object: object) }")
        line()
        line("        init(object: LoadedObject) throws {")
        line("            self.object = object")
        for view in mapViews { line("            \(view.name) = \(view.make)") }
        line("        }")
        line()
        line("        /// Attaches every loaded program whose section says where; the links live as long as the result.")
        line("        func attach() throws -> Attached { try Attached(loaded: self) }")
        for map in ringBuffers {
            let member = SwiftIdentifier.member(map.name)
            line()
            line("        /// A reader decoding each record of ring buffer `\(map.name)` as `Record` (no allocation per record).")
            line("        func \(map.name)Reader<Record: BitwiseCopyable>(as type: Record.Type, _ handler: @escaping (Record) throws -> Void) throws -> RingBufferReader {")
            line("            let reader = try RingBufferReader()")
            line("            try reader.add(\(member), as: type, handler: handler)")
            line("            return reader")
            line("        }")
        }
        if let ring = ringBuffers.first {
            for event in eventSwiftTypes {
                line()
                // The load is spelled out for the concrete type rather than going through the
                // generic RingBufferReader.add(_:as:handler:): specialised, it is a fixed-size
                // copy instead of a copy through the type's metadata (2x the cost per record).
                line("        /// Records of ring buffer `\(ring.name)` decoded as `\(event)`; call `poll` on the result.")
                line("        func events(_ handler: @escaping (\(event)) throws -> Void) throws -> RingBufferReader {")
                line("            let reader = try RingBufferReader()")
                line("            try reader.add(\(SwiftIdentifier.member(ring.name))) { bytes in")
                line("                guard bytes.count >= MemoryLayout<\(event)>.size else {")
                line("                    throw BPFError.invalidArgument(\"a record of \\(bytes.count) bytes from ring buffer '\(ring.name)' is shorter than \(event) (\\(MemoryLayout<\(event)>.size) bytes)\")")
                line("                }")
                line("                try handler(bytes.loadUnaligned(as: \(event).self))")
                line("            }")
                line("            return reader")
                line("        }")
            }
        }
        line("    }")
        line()
        for section in sections {
            line("    /// The live variables of `\(section.name)`\(section.readOnly ? " (read-only after load)" : "").")
            line("    struct Live\(section.typeName) {")
            line("        let object: LoadedObject")
            for global in section.globals {
                let member = SwiftIdentifier.member(global.name)
                line("        var \(member): \(global.swift) { get throws { try object.global(\"\(global.name)\", as: \(global.swift).self) } }")
                if !section.readOnly {
                    line("        func set(\(global.name) value: \(global.swift)) throws { try object.writeGlobal(\"\(global.name)\", withUnsafeBytes(of: value) { Array($0) }) }")
                }
            }
            line("    }")
            line()
        }
        line("    struct Programs {")
        line("        let object: LoadedObject")
        for program in programs {
            line("        /// SEC(\"\(program.sectionName)\")")
            line("        var \(SwiftIdentifier.member(program.name)): Program { get throws { try object.program(named: \"\(program.name)\") } }")
        }
        line("    }")
        line()
        line("    /// Attached programs; `close()` (or releasing this) detaches them.")
        line("    final class Attached {")
        line("        let loaded: Loaded")
        line("        private(set) var links: [String: any Link]")
        line("        /// Programs not attached automatically, with the reason.")
        line("        let skipped: [String: String]")
        line()
        line("        init(loaded: Loaded) throws {")
        line("            self.loaded = loaded")
        line("            (links, skipped) = try loaded.object.attachAll()")
        line("        }")
        line()
        line("        func close() throws {")
        line("            let current = links")
        line("            links = [:]")
        line("            for link in current.values { try link.close() }")
        line("        }")
        line()
        line("        deinit { for link in links.values { try? link.close() } }")
        line("    }")
        line()
        line("    /// Byte-level helpers for the generated C-layout types.")
        line("    enum Layout {")
        line("        static func zeroed<T: BitwiseCopyable>(_ type: T.Type) -> T {")
        line("            withUnsafeTemporaryAllocation(byteCount: max(1, MemoryLayout<T>.size), alignment: MemoryLayout<T>.alignment) { raw in")
        line("                raw.initializeMemory(as: UInt8.self, repeating: 0)")
        line("                return raw.loadUnaligned(as: T.self)")
        line("            }")
        line("        }")
        line()
        line("        static func load<T: BitwiseCopyable>(_ type: T.Type, from bytes: [UInt8], at offset: Int) -> T {")
        line("            guard offset >= 0, offset + MemoryLayout<T>.size <= bytes.count else { return zeroed(T.self) }")
        line("            return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }")
        line("        }")
        line()
        line("        /// Little-endian bitfield read (BPF targets here are little-endian).")
        line("        static func loadBits(_ bytes: UnsafeRawBufferPointer, bitOffset: Int, bits: Int, signed: Bool) -> UInt64 {")
        line("            var value: UInt64 = 0")
        line("            for bit in 0..<bits {")
        line("                let at = bitOffset + bit")
        line("                if bytes[at / 8] & (1 << UInt8(at % 8)) != 0 { value |= 1 << UInt64(bit) }")
        line("            }")
        line("            if signed, bits < 64, value & (1 << UInt64(bits - 1)) != 0 { value |= ~0 << UInt64(bits) }")
        line("            return value")
        line("        }")
        line()
        line("        static func storeBits(_ bytes: UnsafeMutableRawBufferPointer, _ value: UInt64, bitOffset: Int, bits: Int) {")
        line("            for bit in 0..<bits {")
        line("                let at = bitOffset + bit")
        line("                let mask: UInt8 = 1 << UInt8(at % 8)")
        line("                if value & (1 << UInt64(bit)) != 0 { bytes[at / 8] |= mask } else { bytes[at / 8] &= ~mask }")
        line("            }")
        line("        }")
        line("    }")
        line("}")
        line()
        line("// MARK: Types from the object's BTF")
        line()
        line("extension \(skeleton) {")
        for declaration in types.declarations {
            for text in declaration.split(separator: "\n", omittingEmptySubsequences: false) { line(text.isEmpty ? "" : "    " + text) }
            line()
        }
        line("}")
        return out.joined(separator: "\n")
    }
}

/// RFC 4648 base64, for embedding the object in source.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 2 < bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
