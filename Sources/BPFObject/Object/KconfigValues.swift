/// Fills the `.kconfig` map from kernel configuration text (`CONFIG_FOO=y` lines, as in
/// /proc/config.gz or /boot/config-<release>) following libbpf's rules for each C type:
/// `bool` y/m → 1; `enum libbpf_tristate` n/y/m → 0/1/2; `char` the letter itself; integers
/// parsed as C literals (decimal, 0x hex, 0 octal) and checked against the size; `char[N]`
/// from a quoted string. `LINUX_KERNEL_VERSION`, `LINUX_HAS_SYSCALL_WRAPPER` and
/// `LINUX_HAS_BPF_COOKIE` (libbpf's built-in externs) are supplied by the caller. A missing value is an error unless the extern is `__weak` (then it reads 0).
public enum KconfigValues {
    /// `CONFIG_X` → raw value text (quotes kept), from the lines of a config file.
    public static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("CONFIG_") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    /// `KERNEL_VERSION(a, b, c)` from a release string such as `6.18.44-fc`.
    public static func kernelVersion(release: String) -> UInt32 {
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(3).map { UInt32($0) ?? 0 }
        let parts = numbers + Array(repeating: 0, count: max(0, 3 - numbers.count))
        return parts[0] << 16 | min(parts[1], 255) << 8 | min(parts[2], 255)
    }

    /// The `.kconfig` map value for `externs` (size `valueSize`).
    public static func mapValue(for externs: [ObjectExtern], valueSize: Int, config: [String: String],
                                kernelVersion: UInt32, hasSyscallWrapper: Bool,
                                hasBPFCookie: Bool = false) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: valueSize)
        for item in externs {
            guard case .kconfig(let offset, let size, let kind) = item.kind else { continue }
            let start = Int(offset), length = Int(size)
            guard start + length <= bytes.count else { throw ObjectError.malformed("kconfig extern '\(item.name)' lies outside the .kconfig map") }
            let text: String
            switch item.name {
            case "LINUX_KERNEL_VERSION": text = String(kernelVersion)
            case "LINUX_HAS_SYSCALL_WRAPPER": text = hasSyscallWrapper ? "y" : "n"
            case "LINUX_HAS_BPF_COOKIE": text = hasBPFCookie ? "y" : "n"
            default:
                guard let value = config[item.name] else {
                    if item.isWeak { continue }
                    throw ObjectError.unsupported("kconfig extern '\(item.name)' has no value in the kernel configuration; declare it __weak to default to 0")
                }
                text = value
            }
            let encoded = try encode(text, kind: kind, size: length, name: item.name)
            bytes.replaceSubrange(start..<(start + length), with: encoded)
        }
        return bytes
    }

    static func encode(_ text: String, kind: ObjectExtern.KconfigValueKind, size: Int, name: String) throws -> [UInt8] {
        // The size comes from the object's BTF: a zero-sized extern has no room for any value.
        guard size > 0 else { throw ObjectError.malformed("kconfig extern '\(name)' has size 0") }
        func littleEndian(_ value: UInt64) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
        func tristateLetter() throws -> Character {
            guard text.count == 1, let letter = text.first, "ynm".contains(letter) else {
                throw ObjectError.malformed("kconfig '\(name)' = \(text) is not y, n or m")
            }
            return letter
        }
        switch kind {
        case .bool:
            return littleEndian(try tristateLetter() == "n" ? 0 : 1)
        case .tristate:
            return littleEndian(["n": 0, "y": 1, "m": 2][try tristateLetter()]!)
        case .char:
            return littleEndian(UInt64(try tristateLetter().asciiValue!))
        case .string:
            guard text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") else {
                throw ObjectError.malformed("kconfig '\(name)' = \(text) is not a quoted string")
            }
            var bytes = Array(text.dropFirst().dropLast().utf8.prefix(size - 1))
            bytes += Array(repeating: 0, count: size - bytes.count)
            return bytes
        case .integer(let signed):
            let value: UInt64
            if text == "y" || text == "n" || text == "m" {
                value = ["n": 0, "y": 1, "m": 2][text.first!]!
            } else {
                let negative = text.hasPrefix("-")
                let digits = negative ? String(text.dropFirst()) : text
                let parsed: UInt64?
                if digits.hasPrefix("0x") || digits.hasPrefix("0X") { parsed = UInt64(digits.dropFirst(2), radix: 16) }
                else if digits.count > 1, digits.hasPrefix("0") { parsed = UInt64(digits.dropFirst(), radix: 8) }
                else { parsed = UInt64(digits) }
                guard let magnitude = parsed else { throw ObjectError.malformed("kconfig '\(name)' = \(text) is not an integer") }
                // Two's complement negation modulo 2^64, as C's strtoull does for "-N" (so
                // "-0x8000000000000000" is Int64.min rather than an overflow).
                value = negative ? 0 &- magnitude : magnitude
                if size < 8 {
                    let bits = UInt64(size * 8)
                    let fits = signed || negative
                        ? Int64(bitPattern: value) >= -(1 << (bits - 1)) && Int64(bitPattern: value) < (1 << (bits - 1))
                        : value < (1 << bits)
                    guard fits else { throw ObjectError.malformed("kconfig '\(name)' = \(text) does not fit in \(size) bytes") }
                }
            }
            return littleEndian(value)
        }
    }
}
