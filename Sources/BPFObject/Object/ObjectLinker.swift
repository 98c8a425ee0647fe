/// Builds each program's final instruction stream: the entry function, then every function it
/// calls (directly, or as a callback through `lddw` of a function address), appended once and
/// in first-use order, with call offsets rewritten relative to the new positions (as libbpf's
/// bpf_object__reloc_code). Map, global-data and extern references are recorded or applied,
/// and the `.BTF.ext` function/line/CO-RE records are sliced and rebased to match.
struct ObjectLinker {
    let parser: ObjectParser
    let btf: BTF?
    let externs: [ObjectExtern]
    let mapBySymbol: [ObjectParser.SymbolKey: String]
    let dataMapBySection: [Int: String]
    let kconfigMapName: String

    /// One function of a code section.
    struct Function: Hashable {
        var name: String
        var section: Int
        var start: Int
        var count: Int
    }

    /// Decoded instructions and relocations of one executable section.
    struct CodeSection {
        var section: ELFSection
        var instructions: [Instruction]
        var relocations: [Int: ELFRelocation]
        var functions: [Function]
    }

    let code: [Int: CodeSection]
    let externByName: [String: ObjectExtern]

    init(parser: ObjectParser, btf: BTF?, externs: [ObjectExtern], mapBySymbol: [ObjectParser.SymbolKey: String],
         dataMapBySection: [Int: String], kconfigMapName: String) throws {
        self.parser = parser
        self.btf = btf
        self.externs = externs
        self.mapBySymbol = mapBySymbol
        self.dataMapBySection = dataMapBySection
        self.kconfigMapName = kconfigMapName
        externByName = Dictionary(externs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var code: [Int: CodeSection] = [:]
        for section in parser.elf.sections where section.isExecutable && section.type == .progbits && section.size > 0 {
            let bytes = Array(try parser.data(section))
            guard bytes.count % Instruction.byteCount == 0 else {
                throw ObjectError.malformed("code section \(section.name) is \(bytes.count) bytes, not a whole number of instructions")
            }
            let instructions = [Instruction](decodingInstructions: bytes)
            var functions: [Function] = []
            for symbol in parser.symbols where Int(symbol.sectionIndex) == section.index && symbol.type == .function {
                guard symbol.value % 8 == 0, symbol.size % 8 == 0, symbol.value <= section.size, symbol.size <= section.size - symbol.value else {
                    throw ObjectError.malformed("function '\(symbol.name)' (offset \(symbol.value), size \(symbol.size)) lies outside section \(section.name)")
                }
                guard symbol.size > 0 else { continue }
                functions.append(Function(name: symbol.name, section: section.index, start: Int(symbol.value / 8), count: Int(symbol.size / 8)))
            }
            functions.sort { $0.start < $1.start }
            code[section.index] = CodeSection(section: section, instructions: instructions, relocations: [:], functions: functions)
        }
        for relocationSection in parser.elf.sections where relocationSection.type == .rel || relocationSection.type == .rela {
            guard code[Int(relocationSection.info)] != nil else { continue }
            let relocations: [ELFRelocation]
            do { relocations = try parser.elf.relocations(in: relocationSection) } catch let error as ELFError { throw ObjectError.elf(error) }
            let target = Int(relocationSection.info)
            let size = code[target]!.section.size
            for relocation in relocations {
                guard relocation.offset % 8 == 0, relocation.offset < size else {
                    throw ObjectError.malformed("relocation in \(relocationSection.name) at offset \(relocation.offset) is outside its code section (\(size) bytes) or misaligned")
                }
                _ = try parser.symbol(relocation.symbolIndex, for: "relocation at offset \(relocation.offset) of \(relocationSection.name)")
                code[target]!.relocations[Int(relocation.offset / 8)] = relocation
            }
        }
        self.code = code
    }

    func linkPrograms(license: String, kernelVersion: UInt32) throws -> [ObjectProgramSpec] {
        var programs: [ObjectProgramSpec] = []
        for index in code.keys.sorted() {
            let section = code[index]!
            guard section.section.name != ".text" else {
                // BCC-style sources have no SEC(): chosen functions of .text become programs of
                // the section the caller names (they stay callable as subprograms too).
                for function in section.functions {
                    guard let entrySection = parser.textEntryPoints[function.name] else { continue }
                    guard let definition = SectionDefinition.matching(entrySection) else {
                        throw ObjectError.unknownSection(name: entrySection, known: SectionDefinition.knownPatterns)
                    }
                    programs.append(try link(function, definition: definition, license: license, kernelVersion: kernelVersion,
                                             sectionName: entrySection))
                }
                continue
            }
            guard let definition = SectionDefinition.matching(section.section.name) else {
                throw ObjectError.unknownSection(name: section.section.name, known: SectionDefinition.knownPatterns)
            }
            if section.functions.isEmpty {
                throw ObjectError.malformed("code section \(section.section.name) has no function symbol")
            }
            for function in section.functions {
                programs.append(try link(function, definition: definition, license: license, kernelVersion: kernelVersion))
            }
        }
        return programs
    }

    func containing(section: Int, instruction: Int) -> Function? {
        code[section]?.functions.first { instruction >= $0.start && instruction < $0.start + $0.count }
    }

    func link(_ entry: Function, definition: SectionDefinition, license: String, kernelVersion: UInt32,
              sectionName overridingSection: String? = nil) throws -> ObjectProgramSpec {
        let sectionName = overridingSection ?? code[entry.section]!.section.name
        var output: [Instruction] = []
        var placed: [(function: Function, base: Int)] = []
        var baseOf: [Function: Int] = [:]
        var relocations: [ObjectRelocation] = []
        func place(_ function: Function) -> Int {
            if let base = baseOf[function] { return base }
            let base = output.count
            output += code[function.section]!.instructions[function.start..<(function.start + function.count)]
            placed.append((function, base))
            baseOf[function] = base
            return base
        }
        _ = place(entry)
        var next = 0
        while next < placed.count {
            let (function, base) = placed[next]
            next += 1
            let section = code[function.section]!
            var local = 0
            while local < function.count {
                let sectionIndex = function.start + local
                let at = base + local
                let instruction = output[at]
                let isLoad64 = instruction.opcode == ObjectParser.opcodeLoadImm64
                defer { local += isLoad64 ? 2 : 1 }
                if isLoad64 && local + 1 >= function.count {
                    throw ObjectError.malformed("function '\(function.name)' ends in the middle of a 64-bit load")
                }
                guard let relocation = section.relocations[sectionIndex] else {
                    // A call to a static function of the same section may carry no relocation.
                    if instruction.opcode == ObjectParser.opcodeCall, instruction.src == ObjectParser.pseudoCall {
                        let targetIndex = sectionIndex + Int(instruction.immediate) + 1
                        guard let target = containing(section: function.section, instruction: targetIndex) else {
                            throw ObjectError.malformed("call at instruction \(sectionIndex) of \(section.section.name) jumps outside any function")
                        }
                        let targetBase = place(target) + (targetIndex - target.start)
                        output[at].immediate = Int32(targetBase - (at + 1))
                    }
                    continue
                }
                let symbol = try parser.symbol(relocation.symbolIndex, for: "relocation in \(section.section.name)")
                let where_ = "instruction \(sectionIndex) of \(section.section.name)"
                // Symbol values beyond their section are nonsense (and would overflow below).
                guard symbol.value <= UInt64(UInt32.max) else {
                    throw ObjectError.malformed("\(where_): symbol '\(symbol.name)' has an impossible value \(symbol.value)")
                }
                if instruction.opcode == ObjectParser.opcodeCall {
                    if symbol.sectionIndex == 0 {
                        guard let item = externByName[symbol.name], item.kind == .kernelFunction else {
                            throw ObjectError.unsupported("\(where_) calls '\(symbol.name)', an undefined function that is not a __ksym kfunc")
                        }
                        output[at].src = ObjectParser.pseudoKfuncCall
                        output[at].immediate = 0
                        relocations.append(ObjectRelocation(instructionIndex: at, target: .kernelFunction(symbol.name)))
                        continue
                    }
                    guard instruction.src == ObjectParser.pseudoCall, code[Int(symbol.sectionIndex)] != nil else {
                        throw ObjectError.malformed("\(where_): call relocation against '\(symbol.name)', which is not code")
                    }
                    let targetIndex = Int(symbol.value / 8) + Int(instruction.immediate) + 1
                    guard let target = containing(section: Int(symbol.sectionIndex), instruction: targetIndex) else {
                        throw ObjectError.malformed("\(where_): call to '\(symbol.name)' lands outside any function")
                    }
                    let targetBase = place(target) + (targetIndex - target.start)
                    output[at].immediate = Int32(targetBase - (at + 1))
                    continue
                }
                guard isLoad64 else {
                    throw ObjectError.malformed("\(where_): relocation against '\(symbol.name)' on an instruction that is neither lddw nor call (opcode 0x\(String(instruction.opcode, radix: 16)))")
                }
                if symbol.sectionIndex == 0 {
                    guard let item = externByName[symbol.name] else {
                        throw ObjectError.unsupported("\(where_) refers to undefined symbol '\(symbol.name)'")
                    }
                    switch item.kind {
                    case .kconfig(let offset, _, _):
                        output[at].src = ObjectParser.pseudoMapValue
                        output[at].immediate = 0
                        output[at + 1].immediate = Int32(offset)
                        relocations.append(ObjectRelocation(instructionIndex: at, target: .mapValue(map: kconfigMapName, offset: offset)))
                    case .kernelVariable:
                        output[at].src = ObjectParser.pseudoBTFID
                        output[at].immediate = 0
                        output[at + 1].immediate = 0
                        relocations.append(ObjectRelocation(instructionIndex: at, target: .kernelVariable(symbol.name)))
                    case .kernelFunction:
                        output[at].src = ObjectParser.pseudoBTFID
                        output[at].immediate = 0
                        output[at + 1].immediate = 0
                        relocations.append(ObjectRelocation(instructionIndex: at, target: .kernelFunctionAddress(symbol.name)))
                    }
                    continue
                }
                let targetSection = Int(symbol.sectionIndex)
                if code[targetSection] != nil {
                    // The address of a function (callback for bpf_loop, timers, ...).
                    let byteOffset = Int64(symbol.value) + Int64(instruction.immediate)
                    guard byteOffset >= 0, byteOffset % 8 == 0, let target = containing(section: targetSection, instruction: Int(byteOffset / 8)) else {
                        throw ObjectError.malformed("\(where_): function address '\(symbol.name)'+\(instruction.immediate) is not an instruction of a function")
                    }
                    let targetBase = place(target) + (Int(byteOffset / 8) - target.start)
                    output[at].src = ObjectParser.pseudoFunc
                    output[at].immediate = Int32(targetBase - (at + 1))
                    output[at + 1].immediate = 0
                    continue
                }
                if let mapName = mapBySymbol[ObjectParser.SymbolKey(section: targetSection, offset: symbol.value)], symbol.type != .section {
                    output[at].src = ObjectParser.pseudoMapFD
                    output[at].immediate = 0
                    output[at + 1].immediate = 0
                    relocations.append(ObjectRelocation(instructionIndex: at, target: .map(mapName)))
                    continue
                }
                if let mapName = dataMapBySection[targetSection] {
                    let offset = Int64(symbol.value) + Int64(instruction.immediate)
                    guard offset >= 0, offset <= Int64(UInt32.max) else {
                        throw ObjectError.malformed("\(where_): data reference '\(symbol.name)'+\(instruction.immediate) is out of range")
                    }
                    output[at].src = ObjectParser.pseudoMapValue
                    output[at].immediate = 0
                    output[at + 1].immediate = Int32(truncatingIfNeeded: offset)
                    relocations.append(ObjectRelocation(instructionIndex: at, target: .mapValue(map: mapName, offset: UInt32(offset))))
                    continue
                }
                let name = parser.section(symbol.sectionIndex)?.name ?? "#\(symbol.sectionIndex)"
                throw ObjectError.unsupported("\(where_) refers to '\(symbol.name)' in section \(name), which is neither a map, global data nor code")
            }
        }

        // .BTF.ext records of each placed function, rebased to the linked program.
        var functionInfo: [BTFExt.FunctionInfo] = []
        var lineInfo: [BTFExt.LineInfo] = []
        var coreRelocations: [CORERelocationRecord] = []
        if let btfExt, let btf = parser.rawBTF {
            func records<Record>(_ sections: [BTFExt.Section<Record>], for function: Function, byteOffset: (Record) -> UInt32) -> [(Record, Int)] {
                let name = code[function.section]!.section.name
                guard let section = sections.first(where: { (try? btfExt.sectionName($0, in: btf)) == name }) else { return [] }
                return section.records.compactMap { record in
                    let index = Int(byteOffset(record) / 8)
                    return index >= function.start && index < function.start + function.count ? (record, index - function.start) : nil
                }
            }
            for (function, base) in placed {
                for (record, local) in records(btfExt.functionInfo, for: function, byteOffset: { $0.instructionByteOffset }) {
                    var copy = record
                    copy.instructionByteOffset = UInt32((base + local) * 8)
                    functionInfo.append(copy)
                }
                for (record, local) in records(btfExt.lineInfo, for: function, byteOffset: { $0.instructionByteOffset }) {
                    var copy = record
                    copy.instructionByteOffset = UInt32((base + local) * 8)
                    lineInfo.append(copy)
                }
                for (record, local) in records(btfExt.coreRelocations, for: function, byteOffset: { $0.instructionByteOffset }) {
                    var copy = record
                    copy.instructionByteOffset = UInt32((base + local) * 8)
                    coreRelocations.append(copy)
                }
            }
        }
        var spec = ProgramSpec(name: entry.name, type: definition.programType, expectedAttachType: definition.expectedAttachType,
                               instructions: output, license: license, kernelVersion: kernelVersion, flags: definition.loadFlags,
                               sectionName: sectionName)
        spec.attachBTFID = nil
        return ObjectProgramSpec(name: entry.name, sectionName: sectionName, section: definition, spec: spec,
                                 relocations: relocations, functionInfo: functionInfo, lineInfo: lineInfo,
                                 coreRelocations: coreRelocations, subprograms: placed.dropFirst().map(\.function.name), autoload: true)
    }

    var btfExt: BTFExt? { parser.btfExt }
}
