/// Writes JSON in bpftool's json_writer layout, shared by the library's bpftool-compatible
/// listings (`NetworkAttachmentListing.bpftoolJSON`) and the `swiftbpf` CLI: compact by
/// default; with `pretty`, object members each on their own line indented by four spaces per
/// level, array elements kept on the opening line, and closing brackets on their own line.
public struct BPFToolJSONWriter {
    /// The JSON written so far.
    public private(set) var text = ""
    public let pretty: Bool
    private var depth = 0
    /// The separator owed before the next element: "," once something was written at this level.
    private var separator: Character?

    public init(pretty: Bool) { self.pretty = pretty }

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

    public mutating func beginObject() { begin("{") }
    public mutating func endObject() { end("}") }
    public mutating func beginArray() { begin("[") }
    public mutating func endArray() { end("]") }

    /// An object member's key; its value follows.
    public mutating func name(_ name: String) {
        endOfRecord()
        endOfLine()
        separator = nil
        text += Self.quoted(name) + (pretty ? ": " : ":")
    }

    private mutating func raw(_ value: String) {
        endOfRecord()
        text += value
    }

    public mutating func value(_ string: String) { raw(Self.quoted(string)) }
    public mutating func value<T: BinaryInteger>(_ number: T) { raw(String(number)) }
    public mutating func value(_ bool: Bool) { raw(bool ? "true" : "false") }
    public mutating func null() { raw("null") }

    public mutating func field(_ key: String, _ string: String) { name(key); value(string) }
    public mutating func field<T: BinaryInteger>(_ key: String, _ number: T) { name(key); value(number) }
    public mutating func field(_ key: String, _ bool: Bool) { name(key); value(bool) }

    /// The finished document, with the newline bpftool ends every JSON output with.
    public var document: String { text + "\n" }

    /// A JSON string literal. bpftool escapes the same named characters; other control
    /// characters it writes raw (invalid JSON), here they become `\u00XX`.
    public static func quoted(_ string: String) -> String {
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
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
