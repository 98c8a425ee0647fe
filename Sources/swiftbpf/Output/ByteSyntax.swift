/// bpftool's notation for raw bytes on the command line and in its text output.
enum ByteSyntax {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses `count` bytes from `words`: each word a C integer literal (`0x2a`, `42`, `052`),
    /// or after the word `hex` plain hex pairs (`hex 2a 00`, also `hex 2a00`). Returns the
    /// bytes and the words left over.
    static func parse(_ words: ArraySlice<String>, count: Int, what: String) throws -> (bytes: [UInt8], rest: ArraySlice<String>) {
        var rest = words
        var bytes: [UInt8] = []
        if rest.first == "hex" {
            rest = rest.dropFirst()
            while bytes.count < count, let word = rest.first {
                guard word.count % 2 == 0, !word.isEmpty, word.allSatisfy(\.isHexDigit) else {
                    throw ParseError(description: "error parsing byte: \(word)")
                }
                var index = word.startIndex
                while index < word.endIndex, bytes.count < count {
                    let next = word.index(index, offsetBy: 2)
                    bytes.append(UInt8(word[index..<next], radix: 16)!)
                    index = next
                }
                guard index == word.endIndex else { throw ParseError(description: "too many bytes for \(what): \(word)") }
                rest = rest.dropFirst()
            }
        } else {
            while bytes.count < count, let word = rest.first {
                guard let byte = integerLiteral(word) else { throw ParseError(description: "error parsing byte: \(word)") }
                bytes.append(byte)
                rest = rest.dropFirst()
            }
        }
        guard bytes.count == count else {
            throw ParseError(description: "\(what) expected \(count) bytes, got \(bytes.count)")
        }
        return (bytes, rest)
    }

    /// A C integer literal as strtoul with base 0 reads it: `0x..` hex, a leading `0` octal, else decimal.
    static func cInteger(_ word: String) -> UInt64? {
        let lower = word.lowercased()
        if lower.hasPrefix("0x") { return UInt64(lower.dropFirst(2), radix: 16) }
        if lower.count > 1, lower.hasPrefix("0") { return UInt64(lower.dropFirst(), radix: 8) }
        return UInt64(lower, radix: 10)
    }

    /// strtoul with base 0, limited to one byte: `0x..` hex, a leading `0` octal, else decimal.
    static func integerLiteral(_ word: String) -> UInt8? {
        cInteger(word).flatMap { UInt8(exactly: $0) }
    }

    /// bpftool's hex dump: bytes separated by a space, two spaces after every 8th byte, a
    /// line break after every 16th.
    static func hexDump(_ bytes: some Collection<UInt8>) -> String {
        var out = ""
        for (index, byte) in bytes.enumerated() {
            if index > 0 {
                if index % 16 == 0 { out += "\n" } else if index % 8 == 0 { out += "  " } else { out += " " }
            }
            out += hexByte(byte)
        }
        return out
    }
}
