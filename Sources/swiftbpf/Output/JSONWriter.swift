import BPF

/// Writes JSON exactly as bpftool does (its json_writer): compact by default; with `pretty`,
/// object members each on their own line indented by four spaces per level, array elements
/// kept on the opening line, and closing brackets on their own line.
struct JSONWriter {
    private(set) var text = ""
    let pretty: Bool
    private var depth = 0
    /// The separator owed before the next element: "," once something was written at this level.
    private var separator: Character?

    init(pretty: Bool) { self.pretty = pretty }

    private mutating func endOfLine() {
        guard pretty else { return }
        text += "\n" + String(repeating: "    ", count: depth)
    }

    private mutating func endOfRecord() {
        if let separator { text.append(separator) }
        separator = ","
    }

    private mutating func begin(_ bracket: Character) {
        endOfRecord()
        text.append(bracket)
        depth += 1
        separator = nil
    }

    private mutating func end(_ bracket: Character) {
        depth -= 1
        if separator != nil { endOfLine() }
        text.append(bracket)
        separator = ","
    }

    mutating func beginObject() { begin("{") }
    mutating func endObject() { end("}") }
    mutating func beginArray() { begin("[") }
    mutating func endArray() { end("]") }

    mutating func name(_ name: String) {
        endOfRecord()
        endOfLine()
        separator = nil
        text += Self.quoted(name) + (pretty ? ": " : ":")
    }

    private mutating func raw(_ value: String) {
        endOfRecord()
        text += value
    }

    mutating func value(_ string: String) { raw(Self.quoted(string)) }
    mutating func value<T: BinaryInteger>(_ number: T) { raw(String(number)) }
    mutating func value(_ bool: Bool) { raw(bool ? "true" : "false") }
    mutating func null() { raw("null") }

    mutating func field(_ key: String, _ string: String) { name(key); value(string) }
    mutating func field<T: BinaryInteger>(_ key: String, _ number: T) { name(key); value(number) }
    mutating func field(_ key: String, _ bool: Bool) { name(key); value(bool) }

    /// bpftool's rendering of raw bytes: an array of "0x2a" strings.
    mutating func hexBytes(_ bytes: some Sequence<UInt8>) {
        beginArray()
        for byte in bytes { value("0x" + hexByte(byte)) }
        endArray()
    }

    /// The finished document, with the newline bpftool ends every JSON output with.
    var document: String { text + "\n" }

    static func quoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\u{0C}": out += "\\f"
            case "\u{08}": out += "\\b"
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
}

/// bpftool's `"pinned": [paths]`, present only when there are pins.
func pinnedField(_ pins: [String], into writer: inout JSONWriter) {
    guard !pins.isEmpty else { return }
    writer.name("pinned")
    writer.beginArray()
    for path in pins { writer.value(path) }
    writer.endArray()
}

extension JSONWriter {
    /// A BTF-decoded value in bpftool's `formatted` rendering.
    mutating func formatted(_ value: FormattedValue) {
        switch value {
        case .signed(let number): self.value(number)
        case .unsigned(let number): self.value(number)
        case .bool(let flag): self.value(flag)
        case .string(let text): self.value(text)
        case .array(let elements):
            beginArray()
            for element in elements { formatted(element) }
            endArray()
        case .object(let fields):
            beginObject()
            for (key, field) in fields {
                name(key)
                formatted(field)
            }
            endObject()
        }
    }
}
