/// A read-only view of an ELF64 file (either byte order): its header, section headers with
/// names, program headers, symbol tables, notes and relocation sections.
///
/// Pure and defensive: the bytes are untrusted, so every offset and size is checked and every
/// problem is a thrown `ELFError` — no input makes it trap. Sections and program headers are
/// decoded eagerly (they are small); symbols, notes and relocations on request.
public struct ELFFile: Sendable {
    public let bytes: [UInt8]
    public let header: ELFHeader
    /// All section headers, in file order; index 0 is the null section.
    public let sections: [ELFSection]
    /// All program headers (segments), in file order.
    public let segments: [ELFSegment]

    let reader: ELFByteReader

    // ELF64 record sizes (include/uapi/linux/elf.h: Elf64_Ehdr, Elf64_Shdr, Elf64_Phdr, Elf64_Sym,
    // Elf64_Rel, Elf64_Rela).
    static let headerSize = 64
    static let sectionHeaderSize = 64
    static let programHeaderSize = 56
    static let symbolSize = 24
    static let relSize = 16
    static let relaSize = 24

    public init(bytes: [UInt8]) throws {
        guard bytes.count >= 4, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else {
            throw ELFError.notELF
        }
        guard bytes.count >= Self.headerSize else {
            throw ELFError.truncated(what: "ELF header", offset: 0, size: UInt64(Self.headerSize), available: UInt64(bytes.count))
        }
        switch bytes[4] { // EI_CLASS
        case 2: break
        case 1: throw ELFError.unsupported("32-bit ELF (ELFCLASS32); only ELF64 is read")
        default: throw ELFError.unsupported("unknown ELF class \(bytes[4])")
        }
        let isLittleEndian: Bool
        switch bytes[5] { // EI_DATA
        case 1: isLittleEndian = true
        case 2: isLittleEndian = false
        default: throw ELFError.unsupported("unknown byte order \(bytes[5])")
        }
        guard bytes[6] == 1 else { throw ELFError.unsupported("ELF version \(bytes[6])") }
        let reader = ELFByteReader(bytes: bytes, isLittleEndian: isLittleEndian)
        let header = ELFHeader(
            isLittleEndian: isLittleEndian,
            osABI: bytes[7],
            type: ELFFileType(rawValue: try reader.u16(16)),
            machine: try reader.u16(18),
            entry: try reader.u64(24),
            programHeaderOffset: try reader.u64(32),
            sectionHeaderOffset: try reader.u64(40),
            flags: try reader.u32(48),
            programHeaderEntrySize: try reader.u16(54),
            programHeaderCount: try reader.u16(56),
            sectionHeaderEntrySize: try reader.u16(58),
            sectionHeaderCount: try reader.u16(60),
            sectionNameTableIndex: try reader.u16(62))
        self.bytes = bytes
        self.reader = reader
        self.header = header
        self.segments = try Self.readSegments(header, reader)
        self.sections = try Self.readSections(header, reader)
    }

    private static func readSegments(_ header: ELFHeader, _ reader: ELFByteReader) throws -> [ELFSegment] {
        let count = Int(header.programHeaderCount)
        guard count > 0 else { return [] }
        guard Int(header.programHeaderEntrySize) >= programHeaderSize else {
            throw ELFError.malformed("program header entry size \(header.programHeaderEntrySize) is smaller than \(programHeaderSize)")
        }
        let table = try reader.range(offset: header.programHeaderOffset,
                                     size: UInt64(count) * UInt64(header.programHeaderEntrySize), what: "program header table")
        return try (0..<count).map { index in
            let base = table.lowerBound + index * Int(header.programHeaderEntrySize)
            return ELFSegment(
                type: ELFSegmentType(rawValue: try reader.u32(base)),
                flags: try reader.u32(base + 4),
                offset: try reader.u64(base + 8),
                virtualAddress: try reader.u64(base + 16),
                physicalAddress: try reader.u64(base + 24),
                fileSize: try reader.u64(base + 32),
                memorySize: try reader.u64(base + 40),
                alignment: try reader.u64(base + 48))
        }
    }

    private static func readSections(_ header: ELFHeader, _ reader: ELFByteReader) throws -> [ELFSection] {
        guard header.sectionHeaderOffset != 0 else { return [] }
        guard Int(header.sectionHeaderEntrySize) >= sectionHeaderSize else {
            throw ELFError.malformed("section header entry size \(header.sectionHeaderEntrySize) is smaller than \(sectionHeaderSize)")
        }
        let entrySize = Int(header.sectionHeaderEntrySize)
        func rawHeader(_ index: Int, _ base: Int) throws -> ELFSection {
            ELFSection(
                index: index,
                name: "",
                nameOffset: try reader.u32(base),
                type: ELFSectionType(rawValue: try reader.u32(base + 4)),
                flags: try reader.u64(base + 8),
                address: try reader.u64(base + 16),
                offset: try reader.u64(base + 24),
                size: try reader.u64(base + 32),
                link: try reader.u32(base + 40),
                info: try reader.u32(base + 44),
                alignment: try reader.u64(base + 48),
                entrySize: try reader.u64(base + 56))
        }
        // With 0xff00 or more sections, e_shnum is 0 and the real count is section 0's sh_size;
        // likewise e_shstrndx == SHN_XINDEX (0xffff) puts the real index in section 0's sh_link.
        var count = Int(header.sectionHeaderCount)
        var nameTableIndex = Int(header.sectionNameTableIndex)
        if count == 0 || nameTableIndex == 0xffff {
            _ = try reader.range(offset: header.sectionHeaderOffset, size: UInt64(entrySize), what: "section header 0")
            let first = try rawHeader(0, Int(header.sectionHeaderOffset))
            if count == 0 {
                guard first.size <= 1 << 24 else { throw ELFError.malformed("section count \(first.size) is implausible") }
                count = Int(first.size)
            }
            if nameTableIndex == 0xffff { nameTableIndex = Int(first.link) }
        }
        guard count > 0 else { return [] }
        let table = try reader.range(offset: header.sectionHeaderOffset, size: UInt64(count) * UInt64(entrySize), what: "section header table")
        var sections = try (0..<count).map { try rawHeader($0, table.lowerBound + $0 * entrySize) }
        guard nameTableIndex != 0 else { return sections } // SHN_UNDEF: no names
        guard nameTableIndex < count else {
            throw ELFError.malformed("section name table index \(nameTableIndex) is past the \(count) sections")
        }
        let names = sections[nameTableIndex]
        let nameRange = try reader.range(offset: names.offset, size: names.size, what: "section name table")
        for index in sections.indices where sections[index].type != .null || sections[index].nameOffset != 0 {
            sections[index].name = try reader.string(in: nameRange, at: UInt64(sections[index].nameOffset), what: "section \(index)")
        }
        return sections
    }

    // MARK: Sections

    /// The first section called `name` (`.text`, `.symtab`, ...).
    public func section(named name: String) -> ELFSection? { sections.first { $0.name == name } }

    /// The bytes of `section` (empty for SHT_NOBITS such as `.bss`).
    public func data(of section: ELFSection) throws -> ArraySlice<UInt8> {
        if section.type == .nobits { return [] }
        return try reader.slice(offset: section.offset, size: section.size, what: "section \(section.displayName)")
    }

    func section(at index: Int, for purpose: String) throws -> ELFSection {
        guard index >= 0, index < sections.count else {
            throw ELFError.malformed("\(purpose) refers to section \(index), but there are \(sections.count) sections")
        }
        return sections[index]
    }

    // MARK: Symbols

    /// The static symbol table (`.symtab`), or [] when the file is stripped.
    public func symbols() throws -> [ELFSymbol] {
        guard let table = sections.first(where: { $0.type == .symtab }) else { return [] }
        return try symbols(in: table)
    }

    /// The dynamic symbol table (`.dynsym`), or [] when there is none.
    public func dynamicSymbols() throws -> [ELFSymbol] {
        guard let table = sections.first(where: { $0.type == .dynsym }) else { return [] }
        return try symbols(in: table)
    }

    /// The symbols of a SHT_SYMTAB or SHT_DYNSYM section, in table order (index 0 is the null
    /// symbol), names resolved through the section's linked string table.
    public func symbols(in table: ELFSection) throws -> [ELFSymbol] {
        let layout = try symbolTableLayout(table)
        let count = Int(table.size / layout.entrySize)
        var result: [ELFSymbol] = []
        result.reserveCapacity(count)
        for index in 0..<count { result.append(try symbol(at: index, layout: layout)) }
        return result
    }

    /// Entry `index` of symbol table `table`.
    public func symbol(at index: Int, in table: ELFSection) throws -> ELFSymbol {
        let layout = try symbolTableLayout(table)
        guard index >= 0, index < Int(table.size / layout.entrySize) else {
            throw ELFError.malformed("symbol index \(index) is past the end of \(table.displayName)")
        }
        return try symbol(at: index, layout: layout)
    }

    func symbol(at index: Int, layout: (entries: Range<Int>, entrySize: UInt64, strings: Range<Int>)) throws -> ELFSymbol {
        let (range, entrySize, stringRange) = layout
        let base = range.lowerBound + index * Int(entrySize)
        let nameOffset = try reader.u32(base)
        let info = try reader.u8(base + 4)
        return ELFSymbol(
            index: index,
            name: nameOffset == 0 ? "" : try reader.string(in: stringRange, at: UInt64(nameOffset), what: "symbol \(index)"),
            binding: ELFSymbolBinding(rawValue: info >> 4),
            type: ELFSymbolType(rawValue: info & 0xf),
            visibility: try reader.u8(base + 5) & 0x3,
            sectionIndex: try reader.u16(base + 6),
            value: try reader.u64(base + 8),
            size: try reader.u64(base + 16))
    }

    // MARK: Addresses

    /// The file offset holding virtual address `address`, found through the PT_LOAD program
    /// header that maps it — what uprobes need (they attach at file offsets, not addresses).
    public func fileOffset(ofVirtualAddress address: UInt64) -> UInt64? {
        for segment in segments where segment.type == .load {
            let (end, overflow) = segment.virtualAddress.addingReportingOverflow(segment.fileSize)
            if !overflow, address >= segment.virtualAddress, address < end {
                let (fileOffset, offsetOverflow) = (address - segment.virtualAddress).addingReportingOverflow(segment.offset)
                return offsetOverflow ? nil : fileOffset
            }
        }
        return nil
    }

    // MARK: Notes

    /// The notes of every SHT_NOTE section (`.note.gnu.build-id`, `.note.stapsdt`, ...).
    public func notes() throws -> [ELFNote] {
        try sections.filter { $0.type == .note }.flatMap { try notes(in: $0) }
    }

    /// The notes of one SHT_NOTE section. Each entry is namesz, descsz, type (4 bytes each), the
    /// name and the descriptor, each starting at a multiple of the section's alignment (4, or 8
    /// for sections aligned to 8 such as `.note.gnu.property`).
    public func notes(in section: ELFSection) throws -> [ELFNote] {
        let data = try self.data(of: section)
        let alignment = section.alignment == 8 ? 8 : 4
        var notes: [ELFNote] = []
        var offset = data.startIndex
        // Padding aligns positions relative to the section start.
        func aligned(_ position: Int) -> Int {
            let relative = position - data.startIndex
            return data.startIndex + (relative + alignment - 1) / alignment * alignment
        }
        while data.endIndex - offset >= 12 {
            let nameSize = Int(try reader.u32(offset))
            let descriptorSize = Int(try reader.u32(offset + 4))
            let type = try reader.u32(offset + 8)
            let nameStart = offset + 12
            guard nameSize <= data.count, descriptorSize <= data.count,
                  aligned(nameStart + nameSize) + descriptorSize <= data.endIndex else {
                throw ELFError.malformed("note at offset \(offset - data.startIndex) of \(section.displayName) overruns the section (name \(nameSize) B, descriptor \(descriptorSize) B)")
            }
            let descriptorStart = aligned(nameStart + nameSize)
            let next = aligned(descriptorStart + descriptorSize)
            let nameBytes = bytes[nameStart..<nameStart + nameSize]
            notes.append(ELFNote(
                section: section.name,
                name: String(decoding: nameBytes.prefix(while: { $0 != 0 }), as: UTF8.self),
                type: type,
                descriptor: Array(bytes[descriptorStart..<descriptorStart + descriptorSize])))
            offset = min(next, data.endIndex)
        }
        return notes
    }

    // MARK: Relocations

    /// The entries of a SHT_REL or SHT_RELA section. `section.info` names the section they patch
    /// and `section.link` the symbol table their symbol indexes refer to.
    public func relocations(in section: ELFSection) throws -> [ELFRelocation] {
        let hasAddend: Bool
        switch section.type {
        case .rel: hasAddend = false
        case .rela: hasAddend = true
        default: throw ELFError.malformed("section \(section.displayName) is not a relocation section (type \(section.type))")
        }
        let minimum = UInt64(hasAddend ? Self.relaSize : Self.relSize)
        let entrySize = section.entrySize == 0 ? minimum : section.entrySize
        guard entrySize >= minimum else {
            throw ELFError.malformed("relocation section \(section.displayName) has entry size \(entrySize), less than \(minimum)")
        }
        let range = try reader.range(offset: section.offset, size: section.size, what: "relocation section \(section.displayName)")
        return try (0..<Int(section.size / entrySize)).map { index in
            let base = range.lowerBound + index * Int(entrySize)
            let info = try reader.u64(base + 8)
            return ELFRelocation(
                offset: try reader.u64(base),
                symbolIndex: UInt32(truncatingIfNeeded: info >> 32),
                type: UInt32(truncatingIfNeeded: info),
                addend: hasAddend ? Int64(bitPattern: try reader.u64(base + 16)) : nil)
        }
    }
}

// MARK: - Records

/// The ELF64 file header (Elf64_Ehdr), minus the identification bytes already checked.
public struct ELFHeader: Hashable, Sendable {
    public var isLittleEndian: Bool
    public var osABI: UInt8
    public var type: ELFFileType
    /// `e_machine`: 62 = x86-64, 183 = AArch64, 247 = BPF.
    public var machine: UInt16
    public var entry: UInt64
    public var programHeaderOffset: UInt64
    public var sectionHeaderOffset: UInt64
    public var flags: UInt32
    public var programHeaderEntrySize: UInt16
    public var programHeaderCount: UInt16
    public var sectionHeaderEntrySize: UInt16
    public var sectionHeaderCount: UInt16
    public var sectionNameTableIndex: UInt16

    public static let machineX86_64: UInt16 = 62
    public static let machineAArch64: UInt16 = 183
    public static let machineBPF: UInt16 = 247
}

/// `e_type`.
public struct ELFFileType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let relocatable = ELFFileType(rawValue: 1)
    public static let executable = ELFFileType(rawValue: 2)
    /// Shared objects and position-independent executables.
    public static let sharedObject = ELFFileType(rawValue: 3)
    public static let core = ELFFileType(rawValue: 4)
    public var description: String {
        switch rawValue {
        case 1: "REL"
        case 2: "EXEC"
        case 3: "DYN"
        case 4: "CORE"
        default: "type \(rawValue)"
        }
    }
}

/// One section header (Elf64_Shdr) with its resolved name.
public struct ELFSection: Hashable, Sendable {
    public var index: Int
    public var name: String
    public var nameOffset: UInt32
    public var type: ELFSectionType
    public var flags: UInt64
    public var address: UInt64
    public var offset: UInt64
    public var size: UInt64
    public var link: UInt32
    public var info: UInt32
    public var alignment: UInt64
    public var entrySize: UInt64

    /// `SHF_EXECINSTR`.
    public var isExecutable: Bool { flags & 0x4 != 0 }
    /// `SHF_ALLOC`.
    public var isAllocated: Bool { flags & 0x2 != 0 }

    var displayName: String { name.isEmpty ? "#\(index)" : "'\(name)' (#\(index))" }
}

/// `sh_type`.
public struct ELFSectionType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let null = ELFSectionType(rawValue: 0)
    public static let progbits = ELFSectionType(rawValue: 1)
    public static let symtab = ELFSectionType(rawValue: 2)
    public static let strtab = ELFSectionType(rawValue: 3)
    public static let rela = ELFSectionType(rawValue: 4)
    public static let hash = ELFSectionType(rawValue: 5)
    public static let dynamic = ELFSectionType(rawValue: 6)
    public static let note = ELFSectionType(rawValue: 7)
    public static let nobits = ELFSectionType(rawValue: 8)
    public static let rel = ELFSectionType(rawValue: 9)
    public static let dynsym = ELFSectionType(rawValue: 11)
    public var description: String {
        let names: [UInt32: String] = [0: "NULL", 1: "PROGBITS", 2: "SYMTAB", 3: "STRTAB", 4: "RELA", 5: "HASH",
                                       6: "DYNAMIC", 7: "NOTE", 8: "NOBITS", 9: "REL", 11: "DYNSYM"]
        return names[rawValue] ?? "0x\(String(rawValue, radix: 16))"
    }
}

/// One program header (Elf64_Phdr).
public struct ELFSegment: Hashable, Sendable {
    public var type: ELFSegmentType
    /// `PF_X` = 1, `PF_W` = 2, `PF_R` = 4.
    public var flags: UInt32
    public var offset: UInt64
    public var virtualAddress: UInt64
    public var physicalAddress: UInt64
    public var fileSize: UInt64
    public var memorySize: UInt64
    public var alignment: UInt64

    public var isExecutable: Bool { flags & 1 != 0 }
}

/// `p_type`.
public struct ELFSegmentType: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let null = ELFSegmentType(rawValue: 0)
    public static let load = ELFSegmentType(rawValue: 1)
    public static let dynamic = ELFSegmentType(rawValue: 2)
    public static let interpreter = ELFSegmentType(rawValue: 3)
    public static let note = ELFSegmentType(rawValue: 4)
}

/// One symbol table entry (Elf64_Sym) with its resolved name.
public struct ELFSymbol: Hashable, Sendable {
    /// Position in its table (relocations refer to symbols by it).
    public var index: Int
    public var name: String
    public var binding: ELFSymbolBinding
    public var type: ELFSymbolType
    /// `STV_DEFAULT` = 0, `STV_INTERNAL` = 1, `STV_HIDDEN` = 2, `STV_PROTECTED` = 3.
    public var visibility: UInt8
    /// The section the symbol is defined in; 0 (`SHN_UNDEF`) for imports, 0xfff1 `SHN_ABS`,
    /// 0xfff2 `SHN_COMMON`.
    public var sectionIndex: UInt16
    /// The virtual address (executables, shared objects) or the offset in its section
    /// (relocatable objects).
    public var value: UInt64
    public var size: UInt64

    /// Defined in this file (not an import).
    public var isDefined: Bool { sectionIndex != 0 }
}

/// `ELF64_ST_BIND`.
public struct ELFSymbolBinding: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let local = ELFSymbolBinding(rawValue: 0)
    public static let global = ELFSymbolBinding(rawValue: 1)
    public static let weak = ELFSymbolBinding(rawValue: 2)
    public var description: String {
        switch rawValue {
        case 0: "LOCAL"
        case 1: "GLOBAL"
        case 2: "WEAK"
        case 10: "UNIQUE"
        default: "binding \(rawValue)"
        }
    }
}

/// `ELF64_ST_TYPE`.
public struct ELFSymbolType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let none = ELFSymbolType(rawValue: 0)
    public static let object = ELFSymbolType(rawValue: 1)
    public static let function = ELFSymbolType(rawValue: 2)
    public static let section = ELFSymbolType(rawValue: 3)
    public static let file = ELFSymbolType(rawValue: 4)
    public static let common = ELFSymbolType(rawValue: 5)
    public static let tls = ELFSymbolType(rawValue: 6)
    /// `STT_GNU_IFUNC`: the symbol is a resolver that returns the real implementation.
    public static let indirectFunction = ELFSymbolType(rawValue: 10)
    public var description: String {
        switch rawValue {
        case 0: "NOTYPE"
        case 1: "OBJECT"
        case 2: "FUNC"
        case 3: "SECTION"
        case 4: "FILE"
        case 5: "COMMON"
        case 6: "TLS"
        case 10: "GNU_IFUNC"
        default: "type \(rawValue)"
        }
    }
}

/// One note entry.
public struct ELFNote: Hashable, Sendable {
    /// The section it came from (`.note.stapsdt`).
    public var section: String
    /// The owner (`GNU`, `stapsdt`).
    public var name: String
    public var type: UInt32
    public var descriptor: [UInt8]
}

/// One relocation entry (Elf64_Rel or Elf64_Rela).
public struct ELFRelocation: Hashable, Sendable {
    /// Where to patch: the offset within the patched section (relocatable files) or a virtual
    /// address (linked files).
    public var offset: UInt64
    public var symbolIndex: UInt32
    /// Machine-specific type (for BPF: R_BPF_64_64 = 1, R_BPF_64_ABS64 = 2, R_BPF_64_ABS32 = 3,
    /// R_BPF_64_32 = 10).
    public var type: UInt32
    /// The explicit addend of RELA entries; nil for REL.
    public var addend: Int64?
}
