import BPF

extension BPFToolJSONWriter {
    /// bpftool's rendering of raw bytes: an array of "0x2a" strings.
    mutating func hexBytes(_ bytes: some Sequence<UInt8>) {
        beginArray()
        for byte in bytes { value("0x" + hexByte(byte)) }
        endArray()
    }
}

func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
}

/// bpftool's `"pinned": [paths]`, present only when there are pins.
func pinnedField(_ pins: [String], into writer: inout BPFToolJSONWriter) {
    guard !pins.isEmpty else { return }
    writer.name("pinned")
    writer.beginArray()
    for path in pins { writer.value(path) }
    writer.endArray()
}

extension BPFToolJSONWriter {
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
