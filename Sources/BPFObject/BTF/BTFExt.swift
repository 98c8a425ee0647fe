/// The `.BTF.ext` section of a BPF object: per code section, function info, line info and CO-RE
/// relocation records (include/uapi/linux/bpf.h `bpf_func_info`, `bpf_line_info`,
/// `bpf_core_relo`; the container format is libbpf's `btf_ext_header` + `btf_ext_info_sec`).
///
/// Instruction offsets are kept as stored in the ELF object: in bytes from the start of the
/// section (the kernel wants instruction indexes, i.e. `byteOffset / 8`). Names are string
/// offsets into the object's `.BTF` string section; resolve them with the matching `BTF`.
public struct BTFExt: Sendable {
    public var functionInfo: [Section<FunctionInfo>] = []
    public var lineInfo: [Section<LineInfo>] = []
    public var coreRelocations: [Section<CORERelocationRecord>] = []
    /// Record sizes from the blob (newer toolchains may append fields; we read the known prefix).
    public var functionInfoRecordSize: UInt32 = 0
    public var lineInfoRecordSize: UInt32 = 0
    public var coreRelocationRecordSize: UInt32 = 0

    /// One code section's records.
    public struct Section<Record: Sendable>: Sendable {
        /// Offset of the section name (e.g. "kprobe/do_sys_open") in the BTF string section.
        public var nameOffset: UInt32
        public var records: [Record]
    }

    /// `struct bpf_func_info`.
    public struct FunctionInfo: Sendable, Hashable {
        public var instructionByteOffset: UInt32
        public var typeID: UInt32
        public var instructionIndex: Int { Int(instructionByteOffset / 8) }
    }

    /// `struct bpf_line_info`: line number in the upper 22 bits of `line_col`, column in the low 10.
    public struct LineInfo: Sendable, Hashable {
        public var instructionByteOffset: UInt32
        public var fileNameOffset: UInt32
        public var lineTextOffset: UInt32
        public var lineColumn: UInt32
        public var line: UInt32 { lineColumn >> 10 }
        public var column: UInt32 { lineColumn & 0x3ff }
        public var instructionIndex: Int { Int(instructionByteOffset / 8) }
    }

    static let headerMinimum = 24
    static let magic: UInt16 = 0xeB9F

    /// Parses a `.BTF.ext` blob. Every count and offset is checked against the blob.
    public init(_ bytes: [UInt8]) throws {
        guard bytes.count >= BTFExt.headerMinimum else {
            throw BTFError.malformedExt("\(bytes.count) bytes is shorter than the \(BTFExt.headerMinimum)-byte header")
        }
        let rawMagic = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        let swapped: Bool
        if rawMagic == BTFExt.magic { swapped = false } else if rawMagic == BTFExt.magic.byteSwapped { swapped = true } else {
            throw BTFError.malformedExt("magic is 0x\(String(rawMagic, radix: 16)), expected 0xeb9f")
        }
        func word(_ at: Int) -> UInt32 {
            let value = UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
            return swapped ? value.byteSwapped : value
        }
        guard bytes[2] == 1 else { throw BTFError.malformedExt("unsupported version \(bytes[2])") }
        let headerLength = Int(word(4))
        guard headerLength >= BTFExt.headerMinimum, headerLength <= bytes.count else {
            throw BTFError.malformedExt("hdr_len \(headerLength) is outside 24...\(bytes.count)")
        }

        /// The bounds of one info area (offset and length relative to the header's end).
        func area(_ offsetField: Int, _ name: String) throws -> Range<Int>? {
            guard offsetField + 8 <= headerLength else { return nil }  // optional header part absent
            let offset = Int(word(offsetField)), length = Int(word(offsetField + 4))
            guard length > 0 else { return nil }
            let start = headerLength + offset
            guard start + length <= bytes.count else {
                throw BTFError.malformedExt("\(name) (\(length) bytes at \(start)) runs past the end (\(bytes.count) bytes)")
            }
            return start..<(start + length)
        }

        /// Walks `record_size` then the `btf_ext_info_sec` list of one area.
        func sections<Record>(_ range: Range<Int>?, name: String, minimumRecord: Int, decode: (Int) -> Record) throws -> (UInt32, [Section<Record>]) {
            guard let range else { return (0, []) }
            guard range.count >= 4 else { throw BTFError.malformedExt("\(name) is too short for its record size") }
            let recordSize = Int(word(range.lowerBound))
            guard recordSize >= minimumRecord, recordSize % 4 == 0, recordSize <= 1024 else {
                throw BTFError.malformedExt("\(name) record size \(recordSize) (expected at least \(minimumRecord), a multiple of 4)")
            }
            var result: [Section<Record>] = []
            var position = range.lowerBound + 4
            while position < range.upperBound {
                guard range.upperBound - position >= 8 else {
                    throw BTFError.malformedExt("\(name) section header at byte \(position) is truncated")
                }
                let nameOffset = word(position)
                let count = Int(word(position + 4))
                position += 8
                guard count > 0 else { throw BTFError.malformedExt("\(name) section at byte \(position - 8) has no records") }
                let (total, overflow) = count.multipliedReportingOverflow(by: recordSize)
                guard !overflow, total <= range.upperBound - position else {
                    throw BTFError.malformedExt("\(name): \(count) records of \(recordSize) bytes at byte \(position) run past the end of the area")
                }
                var records: [Record] = []
                records.reserveCapacity(count)
                for index in 0..<count { records.append(decode(position + index * recordSize)) }
                result.append(Section(nameOffset: nameOffset, records: records))
                position += total
            }
            return (UInt32(recordSize), result)
        }

        (functionInfoRecordSize, functionInfo) = try sections(area(8, "func_info"), name: "func_info", minimumRecord: 8) {
            FunctionInfo(instructionByteOffset: word($0), typeID: word($0 + 4))
        }
        (lineInfoRecordSize, lineInfo) = try sections(area(16, "line_info"), name: "line_info", minimumRecord: 16) {
            LineInfo(instructionByteOffset: word($0), fileNameOffset: word($0 + 4), lineTextOffset: word($0 + 8), lineColumn: word($0 + 12))
        }
        (coreRelocationRecordSize, coreRelocations) = try sections(area(24, "core_relo"), name: "core_relo", minimumRecord: 16) {
            CORERelocationRecord(instructionByteOffset: word($0), typeID: word($0 + 4), accessStringOffset: word($0 + 8), rawKind: word($0 + 12))
        }
    }
}

/// `struct bpf_core_relo`: one CO-RE relocation as the compiler recorded it.
public struct CORERelocationRecord: Sendable, Hashable {
    public var instructionByteOffset: UInt32
    /// The local (program BTF) type the access starts from.
    public var typeID: UInt32
    /// Offset of the access string ("0:1:2", member indexes) in the BTF string section.
    public var accessStringOffset: UInt32
    public var rawKind: UInt32
    public var kind: CORERelocationKind? { CORERelocationKind(rawValue: rawKind) }
    public var instructionIndex: Int { Int(instructionByteOffset / 8) }
}

/// `enum bpf_core_relo_kind` (include/uapi/linux/bpf.h).
public enum CORERelocationKind: UInt32, Sendable, CaseIterable {
    case fieldByteOffset = 0
    case fieldByteSize = 1
    case fieldExists = 2
    case fieldSigned = 3
    case fieldLShiftU64 = 4
    case fieldRShiftU64 = 5
    case typeIDLocal = 6
    case typeIDTarget = 7
    case typeExists = 8
    case typeSize = 9
    case enumValueExists = 10
    case enumValueValue = 11
    case typeMatches = 12

    /// libbpf's names in its logs (`byte_off`, `type_exists`, ...).
    public var name: String {
        switch self {
        case .fieldByteOffset: "byte_off"
        case .fieldByteSize: "byte_sz"
        case .fieldExists: "field_exists"
        case .fieldSigned: "signed"
        case .fieldLShiftU64: "lshift_u64"
        case .fieldRShiftU64: "rshift_u64"
        case .typeIDLocal: "local_type_id"
        case .typeIDTarget: "target_type_id"
        case .typeExists: "type_exists"
        case .typeSize: "type_size"
        case .enumValueExists: "enumval_exists"
        case .enumValueValue: "enumval_value"
        case .typeMatches: "type_matches"
        }
    }
}

extension BTFExt {
    /// The section names resolved through the object's BTF.
    public func sectionName<Record>(_ section: Section<Record>, in btf: BTF) throws -> String {
        try btf.string(at: section.nameOffset)
    }
}
