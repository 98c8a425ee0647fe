import Foundation

extension JSONOutput {
    /// One value as bpftrace 0.17's `-f json` writes it: integers as numbers, tuples and
    /// `pton()` arrays as JSON arrays (no spaces, nested), everything else (strings, symbols,
    /// stacks, addresses) as a JSON string of its text.
    ///
    /// bpftrace 0.17 writes `macaddr`, `strftime` and `strerror` values unquoted, which is not
    /// JSON; they are quoted here.
    static func value(_ type: TraceValueType, _ bytes: UnsafeRawBufferPointer, at offset: Int, symbols: TraceSymbolizer? = nil) -> String {
        switch type {
        case .tuple(let elements):
            var parts: [String] = []
            var at = offset
            for element in elements {
                parts.append(value(element, bytes, at: at, symbols: symbols))
                at += element.storageSize
            }
            return "[" + parts.joined(separator: ",") + "]"
        case .byteArray, .integerArray:
            return TraceValue.decode(type, bytes, at: offset).text
        default:
            let decoded = TraceValue.decode(type, bytes, at: offset, symbols: symbols)
            if case .integer = decoded { return decoded.text }
            return string(decoded.text)
        }
    }
}
