import BPFObject
import CBPFSys

/// What a program's BTF says about its source, aligned to the translated instructions: the
/// prototype of each function (`func_info`) and the source line of instructions (`line_info`),
/// as `bpftool prog dump xlated` prints them above the instructions.
public struct ProgramSourceInfo: Sendable {
    /// Instruction index → the function starting there, in bpftool's spelling
    /// (`int handler(struct xdp_md * ctx)`).
    public let prototypes: [Int: String]
    /// Instruction index → the source line shown above it, leading whitespace removed.
    public let sourceLines: [Int: String]

    public static let none = ProgramSourceInfo(prototypes: [:], sourceLines: [:])

    public init(prototypes: [Int: String], sourceLines: [Int: String]) {
        self.prototypes = prototypes
        self.sourceLines = sourceLines
    }

    /// Reads `func_info`/`line_info` of the program behind `fd` and resolves them in its BTF.
    /// Programs loaded without BTF have none.
    public init(fd: OwnedFileDescriptor) throws {
        var sizing = sbpf_prog_info()
        try objectInfo(fd: fd, into: &sizing)
        guard sizing.btf_id != 0 else {
            self = .none
            return
        }
        let btfFD = try KernelObjects.open(.btf, id: sizing.btf_id)
        let btf = try BTF(try BTFObjectInfo.bytes(of: btfFD))
        // struct bpf_func_info { u32 insn_off; u32 type_id; }
        // struct bpf_line_info { u32 insn_off; u32 file_name_off; u32 line_off; u32 line_col; }
        let functionRecordSize = max(Int(sizing.func_info_rec_size), 8)
        let lineRecordSize = max(Int(sizing.line_info_rec_size), 16)
        var functions = [UInt8](repeating: 0, count: Int(sizing.nr_func_info) * functionRecordSize)
        var lines = [UInt8](repeating: 0, count: Int(sizing.nr_line_info) * lineRecordSize)
        var info = sbpf_prog_info()
        try functions.withUnsafeMutableBytes { functionBuffer in
            try lines.withUnsafeMutableBytes { lineBuffer in
                info.nr_func_info = sizing.nr_func_info
                info.func_info_rec_size = UInt32(functionRecordSize)
                info.func_info = kernelPointer(functionBuffer.baseAddress)
                info.nr_line_info = sizing.nr_line_info
                info.line_info_rec_size = UInt32(lineRecordSize)
                info.line_info = kernelPointer(lineBuffer.baseAddress)
                try objectInfo(fd: fd, into: &info)
            }
        }
        func word(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
            guard offset + 4 <= bytes.count else { return 0 }
            return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
        }
        var prototypes: [Int: String] = [:]
        for record in 0..<Int(info.nr_func_info) {
            let base = record * functionRecordSize
            if let text = Self.bpftoolSignature(of: word(functions, base + 4), in: btf) {
                prototypes[Int(word(functions, base))] = text
            }
        }
        var sourceLines: [Int: String] = [:]
        for record in 0..<Int(info.nr_line_info) {
            let base = record * lineRecordSize
            guard let line = try? btf.string(at: word(lines, base + 8)) else { continue }
            sourceLines[Int(word(lines, base))] = String(line.drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" }))
        }
        self.init(prototypes: prototypes, sourceLines: sourceLines)
    }

    /// A type as bpftool's "type only" dumper spells it: every component followed by a space
    /// (`struct xdp_md * `), functions as `ret name(type arg, ...)`. Nil for kinds it cannot spell.
    static func bpftoolSignature(of id: UInt32, in btf: BTF) -> String? {
        var text = ""
        guard spell(id, in: btf, into: &text, depth: 0) else { return nil }
        return text.hasSuffix(" ") ? String(text.dropLast()) : text
    }

    private static func spell(_ id: UInt32, in btf: BTF, into text: inout String, depth: Int) -> Bool {
        guard depth < 32 else { return false }
        if id == 0 {
            text += "void "
            return true
        }
        guard let type = try? btf.type(id) else { return false }
        switch type.kind {
        case .int, .typedef, .float: text += type.name + " "
        case .struct: text += "struct \(type.name) "
        case .union: text += "union \(type.name) "
        case .enum, .enum64: text += "enum \(type.name) "
        case .forward: text += (type.kindFlag ? "union " : "struct ") + type.name + " "
        case .array:
            guard let array = type.array, spell(array.elementType, in: btf, into: &text, depth: depth + 1) else { return false }
            text += "[\(array.count)]"
        case .pointer:
            guard spell(type.sizeOrType, in: btf, into: &text, depth: depth + 1) else { return false }
            text += "* "
        case .volatile, .const, .restrict:
            text += (type.kind == .const ? "const " : type.kind == .volatile ? "volatile " : "restrict ")
            return spell(type.sizeOrType, in: btf, into: &text, depth: depth + 1)
        case .functionProto:
            return spellFunction(type, name: nil, in: btf, into: &text, depth: depth)
        case .function:
            guard let proto = try? btf.type(type.sizeOrType) else { return false }
            return spellFunction(proto, name: type.name, in: btf, into: &text, depth: depth)
        default:
            return false
        }
        return true
    }

    private static func spellFunction(_ proto: BTFType, name: String?, in btf: BTF, into text: inout String, depth: Int) -> Bool {
        guard spell(proto.sizeOrType, in: btf, into: &text, depth: depth + 1) else { return false }
        text += (name ?? "") + "("
        for (index, parameter) in proto.parameters.enumerated() {
            if index > 0 { text += ", " }
            guard parameter.type != 0 else {
                text += "..."
                continue
            }
            guard spell(parameter.type, in: btf, into: &text, depth: depth + 1) else { return false }
            if !parameter.name.isEmpty {
                text += parameter.name
            } else if text.hasSuffix(" ") {
                text.removeLast()
            }
        }
        text += ")"
        return true
    }
}
