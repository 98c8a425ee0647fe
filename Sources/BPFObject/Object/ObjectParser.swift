/// Turns the sections of a BPF ELF object into an `ObjectSpec`. One instance per parse.
struct ObjectParser {
    let elf: ELFFile
    let name: String
    let symbols: [ELFSymbol]
    let rawBTF: BTF?
    let btfExt: BTFExt?
    /// Functions of `.text` to link as programs, with the section name each is treated as.
    var textEntryPoints: [String: String] = [:]

    // BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def).
    static let relocation64 = UInt32(1)    // R_BPF_64_64: lddw
    static let relocation32 = UInt32(10)   // R_BPF_64_32: call
    // Instruction facts (include/uapi/linux/bpf.h).
    static let opcodeLoadImm64 = UInt8(0x18)
    static let opcodeCall = UInt8(0x85)
    static let pseudoMapFD = UInt8(1)
    static let pseudoMapValue = UInt8(2)
    static let pseudoBTFID = UInt8(3)
    static let pseudoFunc = UInt8(4)
    static let pseudoCall = UInt8(1)
    static let pseudoKfuncCall = UInt8(2)

    init(bytes: [UInt8], name: String) throws {
        do {
            elf = try ELFFile(bytes: bytes)
            symbols = try elf.symbols()
        } catch let error as ELFError {
            throw ObjectError.elf(error)
        }
        guard elf.header.machine == ELFHeader.machineBPF else {
            throw ObjectError.unsupported("ELF machine \(elf.header.machine) is not BPF (247); compile with clang -target bpf")
        }
        guard elf.header.type == .relocatable else {
            throw ObjectError.unsupported("ELF type \(elf.header.type): a BPF object must be relocatable (REL), as clang -c writes it")
        }
        guard !symbols.isEmpty else { throw ObjectError.malformed("no symbol table (.symtab); was the object stripped?") }
        self.name = name
        if let section = elf.section(named: ".BTF") {
            do { rawBTF = try BTF(Array(try Self.data(elf, section))) } catch let error as ObjectError { throw error } catch { throw ObjectError.btf("\(error)") }
        } else {
            rawBTF = nil
        }
        if let section = elf.section(named: ".BTF.ext"), rawBTF != nil {
            do { btfExt = try BTFExt(Array(try Self.data(elf, section))) } catch let error as ObjectError { throw error } catch { throw ObjectError.btf(".BTF.ext: \(error)") }
        } else {
            btfExt = nil
        }
    }

    static func data(_ elf: ELFFile, _ section: ELFSection) throws -> ArraySlice<UInt8> {
        do { return try elf.data(of: section) } catch let error as ELFError { throw ObjectError.elf(error) }
    }

    func data(_ section: ELFSection) throws -> ArraySlice<UInt8> { try Self.data(elf, section) }

    func section(_ index: UInt16) -> ELFSection? {
        Int(index) < elf.sections.count && index < 0xff00 ? elf.sections[Int(index)] : nil
    }

    func symbol(_ index: UInt32, for purpose: String) throws -> ELFSymbol {
        guard Int(index) < symbols.count else {
            throw ObjectError.malformed("\(purpose) refers to symbol \(index), but the symbol table has \(symbols.count) entries")
        }
        return symbols[Int(index)]
    }

    /// Largest `.data`/`.rodata`/`.bss` accepted: 32 MiB, well above KMALLOC_MAX_SIZE on
    /// 4 KiB-page kernels (the limit on a map value) yet small enough to materialise.
    static let maximumDataSectionSize: UInt64 = 32 << 20

    static func isDataSection(_ section: ELFSection) -> Bool {
        guard section.isAllocated, !section.isExecutable else { return false }
        let name = section.name
        if section.type == .progbits {
            return name == ".data" || name.hasPrefix(".data.") || name == ".rodata" || name.hasPrefix(".rodata.")
        }
        if section.type == .nobits { return name == ".bss" || name.hasPrefix(".bss.") }
        return false
    }

    /// libbpf's internal map name: `<object name prefix>.<section>`, the prefix shortened so
    /// the whole fits the kernel's 15 characters, and no prefix for dotted sections such as
    /// `.rodata.str1.1`; characters the kernel refuses become `_`.
    static func internalMapName(object: String, section: String) -> String {
        let suffixLength = max(7, section.count)
        let prefixLength = section.dropFirst().contains(".") ? 0 : min(15 - min(suffixLength, 15), object.count)
        let raw = String(object.prefix(prefixLength)) + String(section.prefix(15 - prefixLength))
        return String(raw.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." ? $0 : "_" })
    }

    func parse() throws -> ObjectSpec {
        var license = ""
        if let section = elf.section(named: "license") {
            license = String(decoding: try data(section).prefix { $0 != 0 }, as: UTF8.self)
        }
        var version: UInt32 = 0
        if let section = elf.section(named: "version") {
            let bytes = Array(try data(section))
            guard bytes.count == 4 else { throw ObjectError.malformed("section 'version' has \(bytes.count) bytes, expected 4") }
            version = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        }

        // Externs first: they decide the `.kconfig` map and the BTF fix-ups.
        let externs = try collectExterns()
        let btf = try rawBTF.map { try BTFObjectFixup.fixup($0, elf: elf, symbols: symbols, externs: externs) }

        var maps: [ObjectMapSpec] = []
        var mapBySymbol: [SymbolKey: String] = [:]
        var variables: [ObjectVariable] = []
        // Global data sections.
        var dataMapBySection: [Int: String] = [:]
        for section in elf.sections where Self.isDataSection(section) && section.size > 0 {
            // The kernel caps an array map's value_size at KMALLOC_MAX_SIZE (4 MiB with 4 KiB pages),
            // so a bigger section can never load; refusing it early also keeps a forged .bss
            // size from making us allocate gigabytes of zeros.
            guard section.size <= Self.maximumDataSectionSize else {
                throw ObjectError.malformed("data section \(section.name) is \(section.size) bytes; global data maps are limited to \(Self.maximumDataSectionSize) bytes")
            }
            let mapName = Self.internalMapName(object: name, section: section.name)
            let value = section.type == .nobits ? [UInt8](repeating: 0, count: Int(section.size)) : Array(try data(section))
            let isReadOnly = section.name.hasPrefix(".rodata")
            var flags = MapFlags.mmapable.rawValue
            if isReadOnly { flags |= MapFlags.readOnlyProgram.rawValue }
            let datasecID = btf?.typeIDs(named: section.name, kind: .dataSection).first
            maps.append(ObjectMapSpec(
                name: mapName,
                spec: MapSpec(name: mapName, type: .array, keySize: 4, valueSize: UInt32(section.size), maxEntries: 1, flags: flags),
                kind: .data, sectionName: section.name, initialValue: value, pinning: .none,
                keyTypeID: nil, valueTypeID: datasecID, initialSlots: []))
            dataMapBySection[section.index] = mapName
            variables += try dataVariables(in: section, mapName: mapName, btf: btf)
        }
        // The `.kconfig` map: one value holding every kconfig extern.
        let kconfigSize = externs.reduce(UInt32(0)) { size, item in
            if case .kconfig(let offset, let length, _) = item.kind { return max(size, offset + length) }
            return size
        }
        let kconfigMapName = Self.internalMapName(object: name, section: ".kconfig")
        if kconfigSize > 0 {
            let datasecID = btf?.typeIDs(named: ".kconfig", kind: .dataSection).first
            maps.append(ObjectMapSpec(
                name: kconfigMapName,
                spec: MapSpec(name: kconfigMapName, type: .array, keySize: 4, valueSize: (kconfigSize + 7) / 8 * 8, maxEntries: 1,
                              flags: MapFlags.mmapable.rawValue | MapFlags.readOnlyProgram.rawValue),
                kind: .kconfig, sectionName: ".kconfig", initialValue: nil, pinning: .none,
                keyTypeID: nil, valueTypeID: datasecID, initialSlots: []))
        }
        // BTF-defined and legacy maps.
        let definedMaps = try ObjectMapParser(parser: self, btf: btf).parse()
        for (key, map) in definedMaps {
            guard !maps.contains(where: { $0.name == map.name }) else {
                throw ObjectError.malformed("two maps are named '\(map.name)'")
            }
            maps.append(map)
            mapBySymbol[key] = map.name
        }

        let linker = try ObjectLinker(parser: self, btf: btf, externs: externs, mapBySymbol: mapBySymbol,
                                      dataMapBySection: dataMapBySection, kconfigMapName: kconfigMapName)
        let programs = try linker.linkPrograms(license: license, kernelVersion: version)
        var spec = ObjectSpec(name: name, license: license, kernelVersion: version, btf: btf, btfExt: btfExt,
                              maps: maps, programs: programs,
                              variables: variables, externs: externs)
        spec.structOps = try structOpsVariables(btf: btf)
        for ops in spec.structOps {
            for program in ops.programs.values where spec.program(named: program)?.spec.type != .structOps {
                throw ObjectError.malformed("struct_ops '\(ops.name)' points at '\(program)', which is not a SEC(\"struct_ops/...\") program")
            }
        }
        return spec
    }

    struct SymbolKey: Hashable {
        var section: Int
        var offset: UInt64
    }

    func dataVariables(in section: ELFSection, mapName: String, btf: BTF?) throws -> [ObjectVariable] {
        var typeIDs: [String: UInt32] = [:]
        if let btf, let datasec = btf.typeIDs(named: section.name, kind: .dataSection).first {
            for variable in (try? btf.type(datasec))?.sectionVariables ?? [] {
                if let type = try? btf.type(variable.type), type.kind == .variable { typeIDs[type.name] = type.sizeOrType }
            }
        }
        return symbols.filter { Int($0.sectionIndex) == section.index && $0.type == .object && !$0.name.isEmpty }
            .compactMap { symbol in
                guard symbol.value <= section.size, symbol.size <= section.size - symbol.value else { return nil }
                return ObjectVariable(name: symbol.name, sectionName: section.name, mapName: mapName,
                                      offset: UInt32(symbol.value), size: UInt32(symbol.size), typeID: typeIDs[symbol.name])
            }
            .sorted { $0.offset < $1.offset }
    }

    /// Undefined global symbols declared in BTF under `.kconfig` or `.ksyms`.
    func collectExterns() throws -> [ObjectExtern] {
        let undefined = symbols.filter { $0.sectionIndex == 0 && !$0.name.isEmpty && ($0.binding == .global || $0.binding == .weak) }
        guard !undefined.isEmpty else { return [] }
        guard let btf = rawBTF else {
            throw ObjectError.unsupported("extern '\(undefined[0].name)' needs BTF to be resolved; compile with -g")
        }
        // Which datasec each extern's VAR/FUNC sits in.
        var sectionOf: [UInt32: String] = [:]
        for id in btf.typeIDs(of: .dataSection) {
            guard let datasec = try? btf.type(id) else { continue }
            for variable in datasec.sectionVariables { sectionOf[variable.type] = datasec.name }
        }
        var externs: [ObjectExtern] = []
        var kconfigOffset: UInt32 = 0
        for symbol in undefined {
            let candidates = btf.typeIDs(named: symbol.name).filter { id in
                guard let type = try? btf.type(id) else { return false }
                return (type.kind == .variable && type.rawLinkage == 2) || (type.kind == .function && type.rawLinkage == 2)
            }
            guard let id = candidates.first, let type = try? btf.type(id) else {
                throw ObjectError.unsupported("extern '\(symbol.name)' is neither a __kconfig nor a __ksym declaration")
            }
            let isWeak = symbol.binding == .weak
            if type.kind == .function {
                externs.append(ObjectExtern(name: symbol.name, kind: .kernelFunction, isWeak: isWeak, typeID: id))
                continue
            }
            switch sectionOf[id] {
            case ".kconfig":
                let valueType = type.sizeOrType
                let size: Int
                let alignment: Int
                do {
                    size = try btf.size(of: valueType)
                    alignment = max(1, try btf.alignment(of: valueType))
                } catch { throw ObjectError.btf("kconfig extern '\(symbol.name)': \(error)") }
                guard size > 0, size <= 4096 else { throw ObjectError.malformed("kconfig extern '\(symbol.name)' has size \(size)") }
                let kind = try kconfigValueKind(btf, valueType, name: symbol.name, size: size)
                kconfigOffset = (kconfigOffset + UInt32(alignment) - 1) / UInt32(alignment) * UInt32(alignment)
                externs.append(ObjectExtern(name: symbol.name, kind: .kconfig(offset: kconfigOffset, size: UInt32(size), valueKind: kind), isWeak: isWeak, typeID: id))
                kconfigOffset += UInt32(size)
            case ".ksyms":
                externs.append(ObjectExtern(name: symbol.name, kind: .kernelVariable, isWeak: isWeak, typeID: id))
            default:
                throw ObjectError.unsupported("extern '\(symbol.name)' is in section '\(sectionOf[id] ?? "none")'; only .kconfig and .ksyms externs are supported")
            }
        }
        return externs
    }

    func kconfigValueKind(_ btf: BTF, _ id: UInt32, name: String, size: Int) throws -> ObjectExtern.KconfigValueKind {
        guard let resolved = try? btf.skipTypedefs(try btf.skipModifiers(id)), let type = try? btf.type(resolved) else {
            throw ObjectError.btf("kconfig extern '\(name)' has an unreadable type")
        }
        switch type.kind {
        case .int:
            if type.intEncoding.contains(.bool) { return .bool }
            if type.intEncoding.contains(.char) || (size == 1 && type.name == "char") { return .char }
            return .integer(signed: type.intEncoding.contains(.signed))
        case .enum:
            if type.name == "libbpf_tristate" { return .tristate }
            return .integer(signed: type.isSignedEnum)
        case .array:
            guard let element = type.array?.elementType,
                  let elementType = try? btf.type(try btf.skipTypedefs(try btf.skipModifiers(element))),
                  elementType.kind == .int, elementType.storedSize == 1 else {
                throw ObjectError.unsupported("kconfig extern '\(name)': arrays must be of char")
            }
            return .string
        default:
            throw ObjectError.unsupported("kconfig extern '\(name)' has type kind \(type.kind); use bool, tristate, char, an integer or char[N]")
        }
    }
}
