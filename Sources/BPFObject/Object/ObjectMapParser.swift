/// Map definitions of an object: BTF-defined maps in `.maps` and legacy `struct bpf_map_def`
/// records in `maps`.
///
/// A BTF-defined map is a variable of an anonymous struct whose members encode the attributes
/// in their types (libbpf's bpf_helpers.h conventions): `__uint(name, N)` is `int (*name)[N]`
/// (the value is the array length), `__type(name, T)` is `T *name`, `__array(name, T)` is
/// `T *name[]`, and `__ulong(name, N)` is an enum whose enumerator holds N.
struct ObjectMapParser {
    let parser: ObjectParser
    let btf: BTF?

    func parse() throws -> [(ObjectParser.SymbolKey, ObjectMapSpec)] {
        var result: [(ObjectParser.SymbolKey, ObjectMapSpec)] = []
        if let section = parser.elf.section(named: ".maps") {
            result += try btfMaps(in: section)
        }
        if let section = parser.elf.section(named: "maps") {
            result += try legacyMaps(in: section)
        }
        return result
    }

    // MARK: BTF-defined maps

    struct Definition {
        var spec: MapSpec
        var pinning: ObjectMapSpec.Pinning = .none
        var keyTypeID: UInt32?
        var valueTypeID: UInt32?
        /// Byte offset of the `values` member, for initial slots.
        var valuesOffset: UInt32?
        var valuesAreFunctions = false
    }

    func btfMaps(in section: ELFSection) throws -> [(ObjectParser.SymbolKey, ObjectMapSpec)] {
        guard let btf else { throw ObjectError.unsupported("section .maps needs BTF to describe its maps; compile with -g") }
        guard let datasecID = btf.typeIDs(named: ".maps", kind: .dataSection).first, let datasec = try? btf.type(datasecID) else {
            throw ObjectError.malformed("section .maps has no DATASEC in BTF")
        }
        var maps: [(ObjectParser.SymbolKey, ObjectMapSpec)] = []
        var valuesOffsets: [String: (offset: UInt32, symbolOffset: UInt64, size: UInt64, isPrograms: Bool)] = [:]
        for variable in datasec.sectionVariables {
            guard let varType = try? btf.type(variable.type), varType.kind == .variable else {
                throw ObjectError.malformed(".maps DATASEC member \(variable.type) is not a VAR")
            }
            let name = varType.name
            guard let symbol = parser.symbols.first(where: { Int($0.sectionIndex) == section.index && $0.name == name }) else {
                throw ObjectError.malformed("map '\(name)' in .maps has no symbol")
            }
            let definition = try decode(btf, type: varType.sizeOrType, mapName: name, depth: 0)
            var spec = definition.spec
            spec.name = name
            maps.append((ObjectParser.SymbolKey(section: section.index, offset: symbol.value), ObjectMapSpec(
                name: name, spec: spec, kind: .btfDefined, sectionName: ".maps", initialValue: nil,
                pinning: definition.pinning, keyTypeID: definition.keyTypeID, valueTypeID: definition.valueTypeID, initialSlots: [])))
            guard symbol.value <= section.size, symbol.size <= section.size else {
                throw ObjectError.malformed("map '\(name)' symbol (offset \(symbol.value), size \(symbol.size)) lies outside .maps")
            }
            if let offset = definition.valuesOffset {
                valuesOffsets[name] = (offset, symbol.value, symbol.size, definition.valuesAreFunctions)
            }
        }
        // Initial slots: relocations against `.maps` point `values[i]` at maps or programs.
        for relocationSection in parser.elf.sections where (relocationSection.type == .rel || relocationSection.type == .rela) && Int(relocationSection.info) == section.index {
            let relocations: [ELFRelocation]
            do { relocations = try parser.elf.relocations(in: relocationSection) } catch let error as ELFError { throw ObjectError.elf(error) }
            for relocation in relocations {
                guard let (name, info) = valuesOffsets.first(where: { relocation.offset >= $0.value.symbolOffset && relocation.offset < $0.value.symbolOffset + max($0.value.size, 1) }) else {
                    throw ObjectError.malformed(".maps relocation at offset \(relocation.offset) is not inside a map's 'values' member")
                }
                let within = relocation.offset - info.symbolOffset
                guard within >= UInt64(info.offset), (within - UInt64(info.offset)) % 8 == 0 else {
                    throw ObjectError.malformed(".maps relocation at offset \(relocation.offset) of map '\(name)' is not a 'values' slot")
                }
                let slot = UInt32((within - UInt64(info.offset)) / 8)
                let symbol = try parser.symbol(relocation.symbolIndex, for: ".maps relocation")
                let target: ObjectMapSpec.InitialSlot.Target
                if info.isPrograms {
                    guard let targetSection = parser.section(symbol.sectionIndex), targetSection.isExecutable, symbol.type == .function else {
                        throw ObjectError.malformed("program array '\(name)' slot \(slot) refers to '\(symbol.name)', which is not a program")
                    }
                    target = .program(symbol.name)
                } else {
                    guard Int(symbol.sectionIndex) == section.index else {
                        throw ObjectError.malformed("map-in-map '\(name)' slot \(slot) refers to '\(symbol.name)', which is not a map")
                    }
                    target = .map(symbol.name)
                }
                guard let index = maps.firstIndex(where: { $0.1.name == name }) else { continue }
                guard slot < maps[index].1.spec.maxEntries else {
                    throw ObjectError.malformed("map '\(name)' initial slot \(slot) is past max_entries \(maps[index].1.spec.maxEntries)")
                }
                maps[index].1.initialSlots.append(.init(index: slot, target: target))
            }
        }
        return maps
    }

    func resolved(_ btf: BTF, _ id: UInt32) throws -> BTFType {
        do { return try btf.type(try btf.skipTypedefs(try btf.skipModifiers(id))) } catch { throw ObjectError.btf("\(error)") }
    }

    /// `__uint`: pointer to an array whose length is the value. `__ulong`: an enum's first value.
    func integer(_ btf: BTF, _ member: BTFMember, map: String) throws -> UInt64 {
        let type = try resolved(btf, member.type)
        if type.kind == .pointer, let target = try? resolved(btf, type.sizeOrType), let array = target.array {
            return UInt64(array.count)
        }
        if type.kind == .enum || type.kind == .enum64, let first = type.enumerators.first { return first.value }
        throw ObjectError.malformed("map '\(map)' attribute '\(member.name)' is not __uint(...) (pointer to array) or __ulong(...)")
    }

    func decode(_ btf: BTF, type id: UInt32, mapName: String, depth: Int) throws -> Definition {
        guard depth < 2 else { throw ObjectError.malformed("map '\(mapName)' nests map definitions too deeply") }
        let structure = try resolved(btf, id)
        guard structure.kind == .struct else {
            throw ObjectError.malformed("map '\(mapName)' is not a struct in BTF (kind \(structure.kind))")
        }
        var definition = Definition(spec: MapSpec(name: mapName, type: .unspecified, keySize: 0, valueSize: 0, maxEntries: 0))
        var keySize: UInt64?, valueSize: UInt64?
        var innerSpec: MapSpec?
        for member in structure.members {
            func checked32(_ value: UInt64) throws -> UInt32 {
                guard value <= UInt64(UInt32.max) else { throw ObjectError.malformed("map '\(mapName)' \(member.name) = \(value) is too large") }
                return UInt32(value)
            }
            switch member.name {
            case "type":
                let raw = try checked32(try integer(btf, member, map: mapName))
                guard let type = MapType(rawValue: raw) else { throw ObjectError.unsupported("map '\(mapName)' has unknown map type \(raw)") }
                definition.spec.type = type
            case "max_entries": definition.spec.maxEntries = try checked32(try integer(btf, member, map: mapName))
            case "map_flags": definition.spec.flags = try checked32(try integer(btf, member, map: mapName))
            case "numa_node": definition.spec.numaNode = try checked32(try integer(btf, member, map: mapName))
            case "map_extra": definition.spec.mapExtra = try integer(btf, member, map: mapName)
            case "key_size": keySize = try integer(btf, member, map: mapName)
            case "value_size": valueSize = try integer(btf, member, map: mapName)
            case "pinning":
                let raw = try checked32(try integer(btf, member, map: mapName))
                guard let pinning = ObjectMapSpec.Pinning(rawValue: raw) else {
                    throw ObjectError.unsupported("map '\(mapName)' pinning \(raw); only LIBBPF_PIN_NONE (0) and LIBBPF_PIN_BY_NAME (1) exist")
                }
                definition.pinning = pinning
            case "key", "value":
                let pointer = try resolved(btf, member.type)
                guard pointer.kind == .pointer else { throw ObjectError.malformed("map '\(mapName)' \(member.name) is not __type(...) (a pointer)") }
                let size: Int
                do { size = try btf.size(of: pointer.sizeOrType) } catch { throw ObjectError.btf("map '\(mapName)' \(member.name): \(error)") }
                if member.name == "key" {
                    definition.keyTypeID = pointer.sizeOrType
                    if let keySize, keySize != UInt64(size) { throw ObjectError.malformed("map '\(mapName)' key_size \(keySize) disagrees with key type size \(size)") }
                    keySize = UInt64(size)
                } else {
                    definition.valueTypeID = pointer.sizeOrType
                    if let valueSize, valueSize != UInt64(size) { throw ObjectError.malformed("map '\(mapName)' value_size \(valueSize) disagrees with value type size \(size)") }
                    valueSize = UInt64(size)
                }
            case "values":
                let array = try resolved(btf, member.type)
                guard let info = array.array, let pointer = try? resolved(btf, info.elementType), pointer.kind == .pointer else {
                    throw ObjectError.malformed("map '\(mapName)' values is not __array(values, ...)")
                }
                let target = try resolved(btf, pointer.sizeOrType)
                definition.valuesOffset = member.bitOffset / 8
                if target.kind == .functionProto {
                    definition.valuesAreFunctions = true
                } else {
                    var inner = try decode(btf, type: pointer.sizeOrType, mapName: mapName + ".inner", depth: depth + 1).spec
                    inner.name = mapName + ".inner"
                    innerSpec = inner
                }
                valueSize = valueSize ?? 4
            default:
                // libbpf refuses unknown attributes too: a typo would silently change the map.
                throw ObjectError.unsupported("map '\(mapName)' has unknown attribute '\(member.name)'")
            }
        }
        if definition.valuesOffset != nil {
            keySize = keySize ?? 4
            guard valueSize == 4 else { throw ObjectError.malformed("map '\(mapName)' with __array(values) must have 4-byte values") }
        }
        // Ring buffers and similar have neither key nor value.
        definition.spec.keySize = try UInt32(exactly: keySize ?? 0) ?? { throw ObjectError.malformed("map '\(mapName)' key size is too large") }()
        definition.spec.valueSize = try UInt32(exactly: valueSize ?? 0) ?? { throw ObjectError.malformed("map '\(mapName)' value size is too large") }()
        if let innerSpec { definition.spec.innerMap = .spec(innerSpec) }
        // Perf event arrays default to one slot per possible CPU; the loader decides (0 = unset).
        return definition
    }

    // MARK: Legacy maps

    func legacyMaps(in section: ELFSection) throws -> [(ObjectParser.SymbolKey, ObjectMapSpec)] {
        let bytes = Array(try parser.data(section))
        let mapSymbols = parser.symbols.filter { Int($0.sectionIndex) == section.index && !$0.name.isEmpty && $0.type != .section }
            .sorted { $0.value < $1.value }
        guard !mapSymbols.isEmpty else { return [] }
        let definitionSize = bytes.count / mapSymbols.count
        // struct bpf_map_def: type, key_size, value_size, max_entries, map_flags (5 x u32).
        guard definitionSize >= 20, bytes.count % mapSymbols.count == 0 else {
            throw ObjectError.malformed("section 'maps' (\(bytes.count) bytes) does not hold \(mapSymbols.count) struct bpf_map_def records")
        }
        return try mapSymbols.map { symbol in
            guard symbol.value <= UInt64(bytes.count), symbol.value % UInt64(definitionSize) == 0, symbol.value + UInt64(definitionSize) <= UInt64(bytes.count) else {
                throw ObjectError.malformed("legacy map '\(symbol.name)' at offset \(symbol.value) is not a whole bpf_map_def")
            }
            let base = Int(symbol.value)
            func field(_ index: Int) -> UInt32 {
                let at = base + index * 4
                return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
            }
            // Extra trailing fields (iproute2's id/pinning/inner index) are only accepted as zero.
            if definitionSize > 20, bytes[(base + 20)..<(base + definitionSize)].contains(where: { $0 != 0 }) {
                throw ObjectError.unsupported("legacy map '\(symbol.name)' uses fields past struct bpf_map_def")
            }
            guard let type = MapType(rawValue: field(0)) else { throw ObjectError.unsupported("legacy map '\(symbol.name)' has unknown type \(field(0))") }
            let spec = MapSpec(name: symbol.name, type: type, keySize: field(1), valueSize: field(2), maxEntries: field(3), flags: field(4))
            return (ObjectParser.SymbolKey(section: section.index, offset: symbol.value), ObjectMapSpec(
                name: symbol.name, spec: spec, kind: .legacy, sectionName: "maps", initialValue: nil, pinning: .none,
                keyTypeID: nil, valueTypeID: nil, initialSlots: []))
        }
    }
}
