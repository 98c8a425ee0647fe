/// Writes BTF as a C header that compiles with `clang -target bpf` and serves as vmlinux.h for
/// CO-RE programs (the shape `bpftool btf dump … format c` produces):
///
/// - every named struct, union, enum and typedef, each after the types it needs complete
///   (members by value, array elements), with forward declarations for types only reached
///   through pointers; anonymous types written inline where used;
/// - layouts reproduced exactly: gaps filled with unnamed `long: N` bitfields, bitfields
///   declared with their widths, `__attribute__((packed))` where offsets or the size cannot be
///   reached otherwise, and enum sizes forced with `mode` attributes;
/// - conflicting names (different types with one name) renamed with `___2`, `___3` suffixes;
/// - records wrapped in `preserve_access_index` so field accesses become CO-RE relocations.
public struct BTFCHeaderWriter {
    public let btf: BTF
    /// The include guard macro.
    public var headerGuard: String = "__VMLINUX_H__"
    /// Wrap the types in `#pragma clang attribute push (__attribute__((preserve_access_index)), …)`.
    public var preserveAccessIndex = true

    public init(btf: BTF) { self.btf = btf }

    /// The whole header.
    public func header() throws -> String {
        let emitter = BTFCEmitter(btf: btf)
        var text = "#ifndef \(headerGuard)\n#define \(headerGuard)\n\n"
        if preserveAccessIndex {
            text += "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
            text += "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n"
            text += "#endif\n\n"
        }
        try emitter.emitAll()
        text += emitter.output
        if preserveAccessIndex {
            text += "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n"
        }
        text += "#endif /* \(headerGuard) */\n"
        return text
    }

    /// The C definition of one type (and nothing it depends on), e.g. for `describe`-like output.
    public func definition(of id: UInt32) throws -> String {
        let emitter = BTFCEmitter(btf: btf)
        return try emitter.definitionText(id)
    }
}

/// The mutable state of one header emission.
final class BTFCEmitter {
    let btf: BTF
    var output = ""
    private var defined: [Bool]
    private var declared: [Bool]
    private var inProgress: [Bool]
    private var referenced: [Bool]
    private var names: [String?]
    private var alignments: [Int]
    private var packed: [Int8]
    private var tagNames: [String: Int] = [:]
    /// C identifiers; the compiler builtin `__builtin_va_list` is taken, so a BTF typedef of
    /// that name (the kernel's own va_list layout, 24 bytes on x86-64 where BPF's is 8) is
    /// written under a suffixed name and keeps its layout.
    private var identifierNames: [String: Int] = ["__builtin_va_list": 1]
    private var forwardTargets: [String: UInt32] = [:]
    private var recursion = 0
    /// Far below the stack limit, far above any real C nesting.
    private let maxRecursion = 2_000

    init(btf: BTF) {
        self.btf = btf
        let count = btf.typeCount
        defined = Array(repeating: false, count: count)
        declared = Array(repeating: false, count: count)
        inProgress = Array(repeating: false, count: count)
        referenced = Array(repeating: false, count: count)
        names = Array(repeating: nil, count: count)
        alignments = Array(repeating: 0, count: count)
        packed = Array(repeating: -1, count: count)
        output.reserveCapacity(count * 40)
    }

    private var declarator: BTFDeclarator {
        BTFDeclarator(
            btf: btf, spelling: { [unowned self] in self.spelling($0) },
            anonymous: { [unowned self] type, indent in try self.body(of: type, indent: indent) })
    }

    // MARK: Top level

    func emitAll() throws {
        try markReferences()
        for id in btf.allTypeIDs {
            let type = try btf.type(id)
            switch type.kind {
            case .struct, .union:
                if !type.isAnonymous { try define(id) }
            case .enum, .enum64:
                if !type.isAnonymous {
                    try define(id)
                } else if !referenced[Int(id)] {
                    // A free-standing anonymous enum only declares constants.
                    output += try body(of: type, indent: 0) + ";\n\n"
                }
            case .typedef:
                try emitTypedef(id)
            case .forward:
                try declare(id)
            default:
                break
            }
        }
    }

    /// The text of one definition alone.
    func definitionText(_ id: UInt32) throws -> String {
        let type = try btf.type(id)
        switch type.kind {
        case .struct, .union, .enum, .enum64: return try body(of: type, indent: 0) + ";"
        case .typedef: return "typedef " + (try declarator.declaration(of: type.sizeOrType, spelling(type))) + ";"
        default: return try btf.describe(id: id)
        }
    }

    /// Which types are named from elsewhere (an anonymous enum used by a member is written inline
    /// there and must not be written again at top level).
    private func markReferences() throws {
        for id in btf.allTypeIDs {
            let type = try btf.type(id)
            switch type.kind {
            case .struct, .union:
                for member in type.members { referenced[Int(member.type)] = true }
            case .functionProto:
                referenced[Int(type.sizeOrType)] = true
                for parameter in type.parameters { referenced[Int(parameter.type)] = true }
            case .array:
                referenced[Int(type.array!.elementType)] = true
            case .pointer, .typedef, .const, .volatile, .restrict, .typeTag:
                referenced[Int(type.sizeOrType)] = true
            case .forward where !type.isAnonymous:
                _ = 0
            default:
                break
            }
            if type.kind.isComposite, !type.isAnonymous, forwardTargets[type.name] == nil {
                forwardTargets[type.name] = id
            }
        }
    }

    // MARK: Names

    /// The C spelling of a named type, renaming the second and later distinct types of one name
    /// (`task_struct___2`), as bpftool does.
    func spelling(_ type: BTFType) -> String {
        let index = Int(type.id)
        if let name = names[index] { return name }
        let base = type.name
        let assigned: String
        switch type.kind {
        case .forward:
            // A forward declaration names whichever definition carries that name.
            if let target = forwardTargets[base] {
                let full = spelling(try! btf.type(target))
                names[index] = full
                return full
            }
            assigned = (type.isUnionForward ? "union " : "struct ") + base
        case .struct, .union, .enum, .enum64:
            let keyword = type.kind == .struct ? "struct " : type.kind == .union ? "union " : "enum "
            assigned = keyword + unique(base, in: &tagNames)
        case .typedef:
            assigned = unique(base, in: &identifierNames)
        default:
            assigned = base
        }
        names[index] = assigned
        return assigned
    }

    private func unique(_ name: String, in table: inout [String: Int]) -> String {
        let seen = table[name, default: 0]
        table[name] = seen + 1
        return seen == 0 ? name : "\(name)___\(seen + 1)"
    }

    // MARK: Dependencies

    /// Makes sure `id` can be used here: complete (by value) or merely declared (behind a pointer).
    private func need(_ id: UInt32, complete: Bool) throws {
        recursion += 1
        defer { recursion -= 1 }
        guard recursion < maxRecursion else {
            throw BTFError.resolutionLoop(id: id, walk: "ordering C definitions")
        }
        let type = try btf.type(id)
        switch type.kind {
        case .pointer:
            try need(type.sizeOrType, complete: false)
        case .array:
            try need(type.array!.elementType, complete: true)
        case .const, .volatile, .restrict, .typeTag, .variable:
            try need(type.sizeOrType, complete: complete)
        case .function, .functionProto:
            let proto = type.kind == .function ? try btf.type(type.sizeOrType) : type
            guard proto.kind == .functionProto else { return try need(proto.id, complete: false) }
            try need(proto.sizeOrType, complete: false)
            for parameter in proto.parameters { try need(parameter.type, complete: false) }
        case .typedef:
            if complete { try need(type.sizeOrType, complete: true) }
            try emitTypedef(id)
        case .struct, .union:
            if type.isAnonymous {
                guard !inProgress[Int(id)] else { return }
                inProgress[Int(id)] = true
                defer { inProgress[Int(id)] = false }
                for member in type.members { try need(member.type, complete: true) }
            } else if complete {
                try define(id)
            } else {
                try declare(id)
            }
        case .enum, .enum64:
            if !type.isAnonymous { try define(id) }
        case .forward:
            try declare(id)
        default:
            break
        }
    }

    /// Writes the full definition of a named struct, union or enum once.
    private func define(_ id: UInt32) throws {
        let index = Int(id)
        guard !defined[index], !inProgress[index] else { return }
        let type = try btf.type(id)
        inProgress[index] = true
        for member in type.members { try need(member.type, complete: true) }
        inProgress[index] = false
        defined[index] = true
        output += try body(of: type, indent: 0) + ";\n\n"
    }

    /// Writes `struct foo;` once, unless the definition came first.
    private func declare(_ id: UInt32) throws {
        let type = try btf.type(id)
        let index = Int(id)
        let spelled = spelling(type)
        if type.kind == .forward, let target = forwardTargets[type.name] {
            if defined[Int(target)] || declared[Int(target)] { return }
            declared[Int(target)] = true
        }
        guard !defined[index], !declared[index] else { return }
        declared[index] = true
        output += spelled + ";\n\n"
    }

    private func emitTypedef(_ id: UInt32) throws {
        let index = Int(id)
        guard !defined[index], !inProgress[index] else { return }
        let type = try btf.type(id)
        inProgress[index] = true
        try need(type.sizeOrType, complete: false)
        inProgress[index] = false
        defined[index] = true
        output += "typedef " + (try declarator.declaration(of: type.sizeOrType, spelling(type))) + ";\n\n"
    }

    // MARK: Bodies and layout

    /// `struct name { … }` (or anonymous), `union …`, `enum …` with members at `indent + 1`.
    func body(of type: BTFType, indent: Int) throws -> String {
        recursion += 1
        defer { recursion -= 1 }
        guard recursion < maxRecursion else { throw BTFError.resolutionLoop(id: type.id, walk: "writing nested C types") }
        let head = type.isAnonymous
            ? (type.kind == .struct ? "struct" : type.kind == .union ? "union" : "enum")
            : spelling(type)
        let pad = String(repeating: "\t", count: indent + 1)
        let closing = String(repeating: "\t", count: indent) + "}"
        switch type.kind {
        case .enum, .enum64:
            var text = head + " {\n"
            for enumerator in type.enumerators {
                let name = unique(enumerator.name, in: &identifierNames)
                text += pad + name + " = " + enumValue(enumerator, in: type) + ",\n"
            }
            text += closing
            switch type.sizeOrType {
            case 1: text += " __attribute__((mode(QI)))"
            case 2: text += " __attribute__((mode(HI)))"
            case 8 where type.kind == .enum || !needs64Bits(type): text += " __attribute__((mode(DI)))"
            default: break
            }
            return text
        case .struct, .union:
            let isPacked = try packedLayout(type)
            var text = head + " {\n"
            var cursor: UInt64 = 0
            let isStruct = type.kind == .struct
            for member in type.members {
                let (bitOffset, bitSize) = try btf.bitfieldLayout(member)
                let name = member.isAnonymous ? "" : member.name
                if isStruct {
                    let start = UInt64(bitOffset)
                    let placed: UInt64
                    if bitSize == 0 {
                        let alignment = UInt64(isPacked ? 1 : try alignment(member.type)) * 8
                        placed = (cursor + alignment - 1) / alignment * alignment
                    } else {
                        let unit = UInt64(try btf.size(of: member.type)) * 8
                        let crosses = unit > 0 && cursor / unit != (cursor + UInt64(bitSize) - 1) / unit
                        placed = (!isPacked && crosses) ? (cursor + unit - 1) / unit * unit : cursor
                    }
                    if placed < start { text += padding(from: cursor, to: start, indent: pad) }
                    cursor = start + (bitSize > 0 ? UInt64(bitSize) : UInt64(try btf.size(of: member.type)) * 8)
                }
                var line = try declarator.declaration(of: member.type, name, indent: indent + 1)
                if bitSize > 0 { line += ": \(bitSize)" }
                text += pad + line + ";\n"
            }
            if isStruct {
                let alignment = UInt64(isPacked ? 1 : try naturalAlignment(type)) * 8
                let natural = (cursor + alignment - 1) / alignment * alignment
                let size = UInt64(type.sizeOrType) * 8
                if natural < size { text += padding(from: cursor, to: size, indent: pad) }
            }
            text += closing
            if isPacked { text += " __attribute__((packed))" }
            return text
        default:
            return try declarator.declaration(of: type.id, "")
        }
    }

    private func needs64Bits(_ type: BTFType) -> Bool {
        type.enumerators.contains { enumerator in
            enumerator.isSigned ? (enumerator.signedValue < Int64(Int32.min) || enumerator.signedValue > Int64(Int32.max))
                : enumerator.value > UInt64(UInt32.max)
        }
    }

    private func enumValue(_ enumerator: BTFEnumerator, in type: BTFType) -> String {
        if type.kind == .enum {
            return enumerator.isSigned ? "\(Int32(truncatingIfNeeded: enumerator.signedValue))" : "\(UInt32(truncatingIfNeeded: enumerator.value))"
        }
        return enumerator.isSigned ? "\(enumerator.signedValue)LL" : "\(enumerator.value)ULL"
    }

    /// Fills bits `from..<to` so the next member lands exactly at `to`: unnamed `long` bitfields,
    /// each within one 64-bit unit so the compiler places it where it is written; gaps over
    /// 512 bytes (huge or malformed sizes) become one named `char` array instead of thousands
    /// of lines.
    private func padding(from: UInt64, to: UInt64, indent: String) -> String {
        var text = ""
        var cursor = from
        func bits(upTo limit: UInt64) {
            while cursor < limit {
                let chunk = min(limit - cursor, 64 - cursor % 64)
                text += indent + "long: \(chunk);\n"
                cursor += chunk
            }
        }
        if to - from > 4096 {
            bits(upTo: (cursor + 63) / 64 * 64)
            let bytes = (to - cursor) / 64 * 8
            text += indent + "char __pad_\(cursor / 8)[\(bytes)];\n"
            cursor += bytes * 8
        }
        bits(upTo: to)
        return text
    }

    private func alignment(_ id: UInt32) throws -> Int {
        let index = Int(id)
        if alignments[index] > 0 { return alignments[index] }
        recursion += 1
        defer { recursion -= 1 }
        guard recursion < maxRecursion else { throw BTFError.resolutionLoop(id: id, walk: "computing the alignment") }
        let type = try btf.type(id)
        let result: Int
        switch type.kind {
        case .typedef, .volatile, .const, .restrict, .typeTag, .variable:
            result = try alignment(type.sizeOrType)
        case .array:
            result = try alignment(type.array!.elementType)
        case .struct, .union:
            result = try packedLayout(type) ? 1 : try naturalAlignment(type)
        default:
            result = try btf.alignment(of: id)
        }
        alignments[index] = result
        return result
    }

    private func naturalAlignment(_ type: BTFType) throws -> Int {
        var result = 1
        for member in type.members { result = max(result, try alignment(member.type)) }
        return result
    }

    /// Whether the written struct needs `__attribute__((packed))` to get BTF's layout.
    private func packedLayout(_ type: BTFType) throws -> Bool {
        let index = Int(type.id)
        if packed[index] >= 0 { return packed[index] == 1 }
        guard type.kind.isComposite else { return false }
        packed[index] = 0  // provisional, breaks cycles through malformed by-value loops
        var result = Int(type.sizeOrType) % (try naturalAlignment(type)) != 0
        if !result {
            for member in type.members where try btf.bitfieldLayout(member).bitSize == 0 {
                if Int(member.bitOffset) % (try alignment(member.type) * 8) != 0 { result = true; break }
            }
        }
        packed[index] = result ? 1 : 0
        return result
    }
}
