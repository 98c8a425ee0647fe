/// A tracepoint's record layout as tracefs describes it in `events/<category>/<name>/format`:
///
/// ```
/// name: sys_enter_openat
/// ID: 782
/// format:
/// 	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
/// 	...
///
/// 	field:const char * filename;	offset:24;	size:8;	signed:0;
/// print fmt: "..."
/// ```
///
/// A tracepoint program's context is this record, so these offsets are where its arguments are.
/// Pure and total: any text gives a value or a `TracepointFormatError` naming the line.
public struct TracepointFormat: Hashable, Sendable {
    public var name: String
    /// The event id (`perf_event_attr.config` for PERF_TYPE_TRACEPOINT), when the file states it.
    public var id: UInt32?
    /// The fields every event record starts with (`common_type`, `common_flags`,
    /// `common_preempt_count`, `common_pid`).
    public var commonFields: [TracepointField]
    /// The event's own fields, in record order.
    public var fields: [TracepointField]
    /// The `print fmt:` line without its label.
    public var printFormat: String?

    public init(name: String, id: UInt32?, commonFields: [TracepointField], fields: [TracepointField], printFormat: String?) {
        self.name = name
        self.id = id
        self.commonFields = commonFields
        self.fields = fields
        self.printFormat = printFormat
    }

    /// The event field called `name` (common fields included).
    public func field(named name: String) -> TracepointField? {
        fields.first { $0.name == name } ?? commonFields.first { $0.name == name }
    }

    /// The size of a record up to the end of its last field.
    public var recordSize: Int { (commonFields + fields).map { $0.offset + $0.size }.max() ?? 0 }

    public init(parsing text: String) throws {
        var name: String?
        var id: UInt32?
        var common: [TracepointField] = []
        var own: [TracepointField] = []
        var printFormat: String?
        var sawFormat = false
        // The common fields come first, all named `common_*`, ended by a blank line.
        var pastCommonBlock = false
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty {
                if !common.isEmpty { pastCommonBlock = true }
                continue
            }
            if line.hasPrefix("name:") {
                name = String(line.dropFirst(5)).trimmingWhitespace()
            } else if line.hasPrefix("ID:") {
                let value = String(line.dropFirst(3)).trimmingWhitespace()
                guard let parsed = UInt32(value) else {
                    throw TracepointFormatError(line: lineNumber, message: "ID '\(value)' is not a number")
                }
                id = parsed
            } else if line == "format:" {
                sawFormat = true
            } else if line.hasPrefix("print fmt:") {
                // The last section; its quoted format may itself contain newlines (ext4_fc_stats).
                let rest = [Substring(line.dropFirst(10))] + lines[(index + 1)...]
                printFormat = rest.joined(separator: "\n").trimmingWhitespace()
                break
            } else if line.hasPrefix("field:") {
                let field = try TracepointField(parsingLine: line, lineNumber: lineNumber)
                if field.name.hasPrefix("common_") && !pastCommonBlock {
                    common.append(field)
                } else {
                    own.append(field)
                }
            } else {
                throw TracepointFormatError(line: lineNumber, message: "unexpected line '\(line.prefix(80))'")
            }
        }
        guard let name, !name.isEmpty else { throw TracepointFormatError(line: 1, message: "no 'name:' line") }
        guard sawFormat || !(common.isEmpty && own.isEmpty) else {
            throw TracepointFormatError(line: 1, message: "no 'format:' section")
        }
        self.init(name: name, id: id, commonFields: common, fields: own, printFormat: printFormat)
    }
}

/// One field of a tracepoint record.
public struct TracepointField: Hashable, Sendable {
    /// The C declaration as tracefs prints it (`const char * filename`, `char prev_comm[16]`,
    /// `__data_loc char[] name`).
    public var declaration: String
    public var name: String
    /// The C type without the name and array suffix (`const char *`, `char`, `pid_t`); for
    /// `__data_loc` fields the element type (`char`).
    public var type: String
    public var offset: Int
    public var size: Int
    public var isSigned: Bool
    public var kind: Kind

    /// How the field's bytes are laid out.
    public enum Kind: Hashable, Sendable {
        case scalar
        /// A fixed array (`char comm[16]`); `count` is nil when the length is not a literal.
        case array(count: Int?)
        /// `__data_loc T[]`: a u32 whose low 16 bits are the data's offset from the start of the
        /// record and high 16 bits its length (include/trace/stages/stage6_event_callback.h).
        case dataLocation
        /// `__rel_loc T[]`: like `dataLocation`, but the offset counts from the end of this field.
        case relativeLocation
    }

    public init(declaration: String, name: String, type: String, offset: Int, size: Int, isSigned: Bool, kind: Kind) {
        self.declaration = declaration
        self.name = name
        self.type = type
        self.offset = offset
        self.size = size
        self.isSigned = isSigned
        self.kind = kind
    }

    /// Whether the field holds a pointer value (a user or kernel address, e.g. `filename`).
    public var isPointer: Bool { kind == .scalar && type.hasSuffix("*") }

    /// Parses `field:<declaration>;	offset:N;	size:N;	signed:N;`.
    init(parsingLine line: String, lineNumber: Int) throws {
        let parts = line.split(separator: ";").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        guard let first = parts.first, first.hasPrefix("field:") else {
            throw TracepointFormatError(line: lineNumber, message: "field line does not start with 'field:'")
        }
        let declaration = String(first.dropFirst(6)).trimmingWhitespace()
        var attributes: [String: Int] = [:]
        for part in parts.dropFirst() {
            guard let colon = part.firstIndex(of: ":") else {
                throw TracepointFormatError(line: lineNumber, message: "field attribute '\(part)' has no ':'")
            }
            let key = String(part[..<colon])
            let valueText = String(part[part.index(after: colon)...]).trimmingWhitespace()
            guard let value = Int(valueText), value >= 0 else {
                throw TracepointFormatError(line: lineNumber, message: "field attribute \(key) '\(valueText)' is not a non-negative number")
            }
            attributes[key] = value
        }
        guard let offset = attributes["offset"], let size = attributes["size"] else {
            throw TracepointFormatError(line: lineNumber, message: "field '\(declaration)' lacks offset: or size:")
        }
        guard offset <= 1 << 20, size <= 1 << 20 else {
            throw TracepointFormatError(line: lineNumber, message: "field '\(declaration)' has an implausible offset \(offset) or size \(size)")
        }
        var rest = Substring(declaration)
        var kind = Kind.scalar
        if rest.hasSuffix("]"), let open = rest.lastIndex(of: "[") {
            let lengthText = rest[rest.index(after: open)..<rest.index(before: rest.endIndex)]
            kind = .array(count: Int(lengthText.trimmingWhitespace()))
            rest = rest[..<open]
        }
        let nameStart = rest.lastIndex { !($0.isLetter || $0.isNumber || $0 == "_") }.map { rest.index(after: $0) } ?? rest.startIndex
        let name = String(rest[nameStart...])
        var type = String(rest[..<nameStart]).trimmingWhitespace()
        guard !name.isEmpty, !(name.first!.isNumber) else {
            throw TracepointFormatError(line: lineNumber, message: "cannot find the field name in '\(declaration)'")
        }
        for (prefix, locationKind) in [("__data_loc ", Kind.dataLocation), ("__rel_loc ", Kind.relativeLocation)] where type.hasPrefix(prefix) {
            kind = locationKind
            type = String(type.dropFirst(prefix.count)).trimmingWhitespace()
            if type.hasSuffix("[]") { type = String(type.dropLast(2)).trimmingWhitespace() }
        }
        guard !type.isEmpty else {
            throw TracepointFormatError(line: lineNumber, message: "field '\(declaration)' has no type")
        }
        self.init(declaration: declaration, name: name, type: type, offset: offset, size: size,
                  isSigned: attributes["signed"].map { $0 != 0 } ?? false, kind: kind)
    }
}

/// A `format` file that could not be read, with the 1-based line at fault.
public struct TracepointFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
    public var description: String { "tracepoint format, line \(line): \(message)" }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines (no Foundation needed).
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
