import BPFObject

/// BCC's `TRACEPOINT_PROBE(category, event)` hands the program `args`, a struct laid out like
/// the tracepoint's record. BCC writes that struct from the tracefs format; so do we: for each
/// `tracepoint__<category>__<event>` named in the source, `struct tracepoint__<category>__<event>`
/// with every field at the offset the format gives (explicit padding, no packing: the kernel's
/// records are naturally aligned).
enum TracepointProbeStructs {
    /// The (category, event) pairs the source names through TRACEPOINT_PROBE or a
    /// `tracepoint__category__event` identifier, in first-use order.
    static func referencedTracepoints(in source: String) -> [(category: String, event: String)] {
        var found: [(String, String)] = []
        var seen: Set<String> = []
        func add(_ category: Substring, _ event: Substring) {
            let key = "\(category):\(event)"
            if !category.isEmpty, !event.isEmpty, seen.insert(key).inserted { found.append((String(category), String(event))) }
        }
        let identifierCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
        // Identifiers: tracepoint__cat__event.
        var index = source.startIndex
        while let range = source.range(of: "tracepoint__", range: index..<source.endIndex) {
            index = range.upperBound
            if range.lowerBound > source.startIndex, identifierCharacters.contains(source[source.index(before: range.lowerBound)]) { continue }
            let identifier = source[range.upperBound...].prefix { identifierCharacters.contains($0) }
            guard let separator = identifier.range(of: "__") else { continue }
            add(identifier[..<separator.lowerBound], identifier[separator.upperBound...])
        }
        // TRACEPOINT_PROBE(cat, event).
        index = source.startIndex
        while let range = source.range(of: "TRACEPOINT_PROBE", range: index..<source.endIndex) {
            index = range.upperBound
            if range.lowerBound > source.startIndex, identifierCharacters.contains(source[source.index(before: range.lowerBound)]) { continue }
            var rest = source[range.upperBound...].drop { $0 == " " || $0 == "\t" }
            guard rest.first == "(" else { continue }
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: ")") else { continue }
            let arguments = rest[..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            guard arguments.count == 2 else { continue }
            add(Substring(arguments[0]), Substring(arguments[1]))
        }
        return found
    }

    /// The C declaration of `struct tracepoint__<category>__<event>` for `format`.
    static func declaration(category: String, event: String, format: TracepointFormat) -> String {
        var lines = ["struct tracepoint__\(category)__\(event) {"]
        var offset = 0
        var padding = 0
        for field in (format.commonFields + format.fields).sorted(by: { $0.offset < $1.offset }) {
            guard field.offset >= offset else { continue } // overlapping: keep the first
            if field.offset > offset {
                lines.append("\tchar __pad_\(padding)[\(field.offset - offset)];")
                padding += 1
            }
            lines.append("\t" + member(field) + ";")
            offset = field.offset + field.size
        }
        if format.recordSize > offset { lines.append("\tchar __pad_\(padding)[\(format.recordSize - offset)];") }
        lines.append("};")
        return lines.joined(separator: "\n")
    }

    /// One member. Integers are spelled by size and sign (kernel typedefs such as `pid_t` or
    /// `umode_t` need not be in vmlinux.h); pointers keep their declared type so `args->filename`
    /// stays a `const char *`; `__data_loc` fields become BCC's `__data_loc_<name>` u32.
    static func member(_ field: TracepointField) -> String {
        func integer(_ size: Int, signed: Bool) -> String? {
            switch size {
            case 1: signed ? "__s8" : "__u8"
            case 2: signed ? "__s16" : "__u16"
            case 4: signed ? "__s32" : "__u32"
            case 8: signed ? "__s64" : "__u64"
            default: nil
            }
        }
        switch field.kind {
        case .dataLocation, .relativeLocation:
            return "__u32 __data_loc_\(field.name)"
        case .array(let count):
            let elementCount = count ?? 0
            if elementCount > 0, field.size % elementCount == 0, let element = integer(field.size / elementCount, signed: field.isSigned) {
                // `char comm[16]` stays char so string helpers take it without casts.
                let type = field.type.hasSuffix("char") ? "char" : element
                return "\(type) \(field.name)[\(elementCount)]"
            }
            return "char \(field.name)[\(field.size)]"
        case .scalar:
            if field.isPointer, field.size == 8 {
                return isSimplePointer(field.type) ? "\(field.type) \(field.name)" : "void *\(field.name)"
            }
            if let type = integer(field.size, signed: field.isSigned) { return "\(type) \(field.name)" }
            return "char \(field.name)[\(field.size)]"
        }
    }

    /// Pointer types that always compile: C's own types and `struct X *` (incomplete is fine).
    static func isSimplePointer(_ type: String) -> Bool {
        let base = type.replacingOccurrences(of: "*", with: " ").split(separator: " ").filter { $0 != "const" && $0 != "volatile" }
        let builtin: Set<Substring> = ["char", "short", "int", "long", "unsigned", "signed", "void", "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64"]
        if base.first == "struct" { return base.count == 2 }
        return !base.isEmpty && base.allSatisfy { builtin.contains($0) }
    }
}
