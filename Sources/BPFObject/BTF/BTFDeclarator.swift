/// Builds C declarations from the type graph: `struct task_struct *`, `int (*)(void *, u64)`,
/// `char[16]`, `const char *name`. Shared by `BTF.describe` and the C header emitter.
struct BTFDeclarator {
    let btf: BTF
    /// The spelling of a named struct, union, enum, typedef or forward declaration; the C
    /// emitter renames conflicting names here.
    var spelling: (BTFType) -> String
    /// The spelling of an anonymous struct, union or enum; the C emitter writes the body inline.
    var anonymous: (BTFType, Int) throws -> String

    /// The declaration of `declarator` (a name, or "" for an abstract type) with type `id`.
    func declaration(of id: UInt32, _ declarator: String, indent: Int = 0, depth: Int = 0) throws -> String {
        var decl = declarator
        var pending: [String] = []
        var current = id
        var steps = depth
        while true {
            steps += 1
            guard steps <= 4 * BTF.maxResolveDepth else {
                throw BTFError.resolutionLoop(id: id, walk: "writing the C declaration")
            }
            let type = try btf.type(current)
            switch type.kind {
            case .const, .volatile, .restrict:
                let qualifier = type.kind == .const ? "const" : type.kind == .volatile ? "volatile" : "restrict"
                if !pending.contains(qualifier) { pending.append(qualifier) }
                current = type.sizeOrType
            case .typeTag, .variable, .declTag:
                current = type.sizeOrType
            case .function:
                current = type.sizeOrType
            case .pointer:
                let qualifiers = pending.isEmpty ? "" : pending.joined(separator: " ") + (decl.isEmpty ? "" : " ")
                decl = "*" + qualifiers + decl
                pending = []
                current = type.sizeOrType
            case .array:
                if decl.hasPrefix("*") { decl = "(" + decl + ")" }
                decl += "[\(type.array!.count)]"
                current = type.array!.elementType
            case .functionProto:
                if decl.hasPrefix("*") { decl = "(" + decl + ")" }
                pending = []
                var parameters = try type.parameters.map { parameter -> String in
                    if parameter.type == 0 && parameter.name.isEmpty { return "..." }
                    return try declaration(of: parameter.type, "", indent: indent, depth: steps + 1)
                }
                if parameters.isEmpty { parameters = ["void"] }
                decl += "(" + parameters.joined(separator: ", ") + ")"
                current = type.sizeOrType
            default:
                let base: String
                switch type.kind {
                case .void: base = "void"
                case .int, .float: base = type.name
                case .struct, .union, .enum, .enum64:
                    base = type.isAnonymous ? try anonymous(type, indent) : spelling(type)
                case .forward, .typedef:
                    base = spelling(type)
                default:
                    base = type.name
                }
                let prefix = pending.isEmpty ? "" : pending.joined(separator: " ") + " "
                if decl.isEmpty { return prefix + base }
                if decl.hasPrefix("[") { return prefix + base + decl }
                return prefix + base + " " + decl
            }
        }
    }

    /// How C spells a named tagged type or typedef, without renaming.
    static func plainSpelling(_ type: BTFType) -> String {
        switch type.kind {
        case .struct: "struct " + type.name
        case .union: "union " + type.name
        case .enum, .enum64: "enum " + type.name
        case .forward: (type.isUnionForward ? "union " : "struct ") + type.name
        default: type.name
        }
    }
}

extension BTF {
    /// The type in C syntax: `struct task_struct *`, `int (*)(void *, u64)`, `char[16]`.
    /// Anonymous structs, unions and enums read `struct {...}`.
    public func describe(id: UInt32) throws -> String {
        let declarator = BTFDeclarator(btf: self, spelling: BTFDeclarator.plainSpelling) { type, _ in
            switch type.kind {
            case .struct: "struct {...}"
            case .union: "union {...}"
            default: "enum {...}"
            }
        }
        let type = try type(id)
        switch type.kind {
        case .function:
            return try declarator.declaration(of: type.sizeOrType, type.name)
        case .variable:
            return try declarator.declaration(of: type.sizeOrType, type.name)
        case .dataSection:
            return "SEC(\"\(type.name)\")"
        case .declTag:
            return "__attribute__((btf_decl_tag(\"\(type.name)\")))"
        case .typeTag:
            return try declarator.declaration(of: type.sizeOrType, "") + " __attribute__((btf_type_tag(\"\(type.name)\")))"
        default:
            return try declarator.declaration(of: id, "")
        }
    }
}

extension BTFType: CustomStringConvertible {
    /// `[id] KIND 'name'` then the C spelling when it has one.
    public var description: String {
        let spelled = (try? btf.describe(id: id)) ?? "?"
        return "[\(id)] \(kind.rawName) '\(isAnonymous ? "(anon)" : name)' \(spelled)"
    }
}
