import Foundation

/// Prints a map's elements the way bpftrace 0.17's text output does:
///
///     @name[key1, key2]: value        (sorted by value, ascending)
///     @hist:                          (then the buckets, then a blank line)
///     [4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
///
/// `avg` and `stats` maps end with a blank line; plain and counting maps do not.
public enum MapPrinter {
    /// `print(@map, top, divisor)`: only the `top` largest entries (0: all), integer values
    /// divided by `divisor` (bpftrace's print arguments).
    public static func render(_ map: TraceMap, elements: [(key: [UInt8], value: [UInt8])], top: Int, divisor: UInt64 = 1, symbols: TraceSymbolizer? = nil) -> String {
        // bpftrace ignores both arguments for stats() maps (with a warning at compile time).
        guard map.kind != .stats else { return render(map, elements: elements, symbols: symbols) }
        let full = render(map, elements: elements, divisor: divisor, symbols: symbols)
        guard top > 0 else { return full }
        switch map.kind {
        case .hist, .lhist:
            // Entries are blank-line separated blocks, smallest total first.
            let blocks = full.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            return blocks.suffix(top).map { $0 + "\n\n" }.joined()
        case .avg, .stats:
            let lines = full.split(separator: "\n").map(String.init)
            return lines.suffix(top).map { $0 + "\n" }.joined() + "\n"
        default:
            let lines = full.split(separator: "\n").map(String.init)
            return lines.suffix(top).map { $0 + "\n" }.joined()
        }
    }

    public static func render(_ map: TraceMap, elements: [(key: [UInt8], value: [UInt8])], divisor: UInt64 = 1, symbols: TraceSymbolizer? = nil) -> String {
        // bpftrace prints an empty map (e.g. after clear()) as one blank line before its usual trailer.
        if elements.isEmpty { return "\n" + renderEntries(map, elements: elements, divisor: divisor, symbols: symbols) }
        return renderEntries(map, elements: elements, divisor: divisor, symbols: symbols)
    }

    /// bpftrace prints pointers in map keys in hex (`@[0xffff888102da2180]`), values as numbers.
    static func pointerKeyText(_ type: TraceValueType, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> String? {
        guard case .pointer = type, offset >= 0, offset + 8 <= bytes.count else { return nil }
        return "0x" + String(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self), radix: 16)
    }

    static func renderEntries(_ map: TraceMap, elements: [(key: [UInt8], value: [UInt8])], divisor: UInt64, symbols: TraceSymbolizer?) -> String {
        let keyPartsSize = map.scriptKeySize
        func keyText(_ key: [UInt8]) -> String {
            guard !map.keyTypes.isEmpty else { return "" }
            var offset = 0
            var parts: [String] = []
            key.withUnsafeBytes { bytes in
                for type in map.keyTypes {
                    parts.append(pointerKeyText(type, bytes, at: offset) ?? TraceValue.decode(type, bytes, at: offset, symbols: symbols).keyText)
                    offset += type.storageSize
                }
            }
            return "[" + parts.joined(separator: ", ") + "]"
        }
        func u64(_ bytes: [UInt8], _ index: Int) -> UInt64 {
            guard bytes.count >= (index + 1) * 8 else { return 0 }
            return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) }
        }

        switch map.kind {
        case .hist, .lhist:
            // Group buckets by the script's key.
            var groups: [[UInt8]: [Int: UInt64]] = [:]
            var order: [[UInt8]] = []
            for element in elements {
                let scriptKey = Array(element.key.prefix(keyPartsSize))
                let bucket = Int(truncatingIfNeeded: u64(Array(element.key.dropFirst(keyPartsSize)), 0))
                if groups[scriptKey] == nil { order.append(scriptKey) }
                groups[scriptKey, default: [:]][bucket, default: 0] += u64(element.value, 0)
            }
            // bpftrace orders histograms by their total count.
            order.sort { (groups[$0]!.values.reduce(0, +), keyText($0)) < (groups[$1]!.values.reduce(0, +), keyText($1)) }
            var out = ""
            for key in order {
                out += "\(map.name)\(keyText(key)): \n"
                out += histogram(groups[key]!, kind: map.kind, divisor: divisor)
                out += "\n"
            }
            return out
        case .avg, .stats:
            let rows = elements.map { element -> (String, Int64, Int64, Int64) in
                let sum = Int64(bitPattern: u64(element.value, 0))
                let count = Int64(bitPattern: u64(element.value, 1))
                return (keyText(element.key), count, count == 0 ? 0 : sum / count, sum)
            }.sorted { ($0.2, $0.0) < ($1.2, $1.0) }
            var out = ""
            for (key, count, average, total) in rows {
                if map.kind == .avg {
                    // print()'s divisor applies to averages (bpftrace ignores it for stats).
                    out += "\(map.name)\(key): \(average / Int64(max(divisor, 1)))\n"
                } else {
                    out += "\(map.name)\(key): count \(count), average \(average), total \(total)\n"
                }
            }
            return out + "\n"
        default:
            let valueType: TraceValueType
            switch map.kind {
            case .value(let type): valueType = type
            case .count: valueType = .integer(signed: false)
            case .sum(let signed), .min(let signed), .max(let signed): valueType = .integer(signed: signed)
            default: valueType = .integer(signed: true)
            }
            let rows = elements.map { element -> (String, TraceValue) in
                let value = element.value.withUnsafeBytes { TraceValue.decode(valueType, $0, at: 0, symbols: symbols) }
                return (keyText(element.key), value)
            }.sorted { a, b in
                switch (a.1, b.1) {
                case (.integer(let x, let signed), .integer(let y, _)):
                    if x == y { return a.0 < b.0 }
                    return signed ? Int64(bitPattern: x) < Int64(bitPattern: y) : x < y
                default: return (a.1.text, a.0) < (b.1.text, b.0)
                }
            }
            return rows.map { row -> String in
                if divisor > 1, case .integer(let value, let signed) = row.1 {
                    let divided = signed ? String(Int64(bitPattern: value) / Int64(bitPattern: divisor)) : String(value / divisor)
                    return "\(map.name)\(row.0): \(divided)\n"
                }
                return "\(map.name)\(row.0): \(row.1.text)\n"
            }.joined()
        }
    }

    /// The bucket lines from the first to the last non-empty bucket. `print(@h, top, div)`
    /// divides the counts shown, not the bars (bpftrace draws them from the real counts).
    static func histogram(_ buckets: [Int: UInt64], kind: TraceMapKind, divisor: UInt64 = 1) -> String {
        let used = buckets.filter { $0.value > 0 }.keys
        guard let first = used.min(), let last = used.max() else { return "" }
        let maximum = buckets.values.max() ?? 1
        var out = ""
        for index in first...last {
            let count = buckets[index] ?? 0
            let label = bucketLabel(index, kind: kind)
            let bar = maximum == 0 ? 0 : Int(count * 52 / maximum)
            out += label.padding(toLength: max(16, label.count), withPad: " ", startingAt: 0)
            let number = String(count / max(divisor, 1))
            out += String(repeating: " ", count: max(0, 8 - number.count)) + number
            out += " |" + String(repeating: "@", count: bar) + String(repeating: " ", count: 52 - bar) + "|\n"
        }
        return out
    }

    static func bucketLabel(_ index: Int, kind: TraceMapKind) -> String {
        switch kind {
        case .lhist(let low, let high, let step):
            let buckets = Int((high - low + step - 1) / step)
            if index == 0 { return "(..., \(low))" }
            if index > buckets { return "[\(high), ...)" }
            let start = low + Int64(index - 1) * step
            return "[\(start), \(min(start + step, high)))"
        default:
            if index == 0 { return "(..., 0)" }
            if index == 1 { return "[0]" }
            if index == 2 { return "[1]" }
            let power = index - 2
            return "[\(powerLabel(power)), \(powerLabel(power + 1)))"
        }
    }

    /// 2^power with bpftrace's K/M/G/T/P/E suffixes (powers of 1024).
    static func powerLabel(_ power: Int) -> String {
        let suffixes = ["", "K", "M", "G", "T", "P", "E"]
        let unit = power / 10
        return "\(1 << (power % 10))\(suffixes[min(unit, suffixes.count - 1)])"
    }
}

/// bpftrace's `-f json` output: one JSON object per line, `{"type": ..., "data": ...}`.
public enum JSONOutput {
    public static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    public static func event(_ type: String, _ data: String) -> String {
        "{\"type\": \(string(type)), \"data\": \(data)}\n"
    }

    /// A whole map as one line: `map`, `hist` or `stats` typed, keys joined with ",".
    /// `print(@map, top, div)` keeps the `top` largest entries (0: all) and divides integer
    /// values, averages and bucket counts by `divisor`; stats() maps ignore both, as in bpftrace.
    public static func render(_ map: TraceMap, elements: [(key: [UInt8], value: [UInt8])], top: Int = 0, divisor: UInt64 = 1, symbols: TraceSymbolizer? = nil) -> String {
        let (top, divisor) = map.kind == .stats ? (0, UInt64(1)) : (top, max(divisor, 1))
        func largest(_ entries: [(String, String)]) -> [(String, String)] { top > 0 ? Array(entries.suffix(top)) : entries }
        func keyText(_ key: [UInt8]) -> String {
            var offset = 0
            var parts: [String] = []
            key.withUnsafeBytes { bytes in
                for type in map.keyTypes {
                    parts.append(MapPrinter.pointerKeyText(type, bytes, at: offset) ?? TraceValue.decode(type, bytes, at: offset, symbols: symbols).text)
                    offset += type.storageSize
                }
            }
            return parts.joined(separator: ",")
        }
        func u64(_ bytes: [UInt8], _ index: Int) -> UInt64 {
            guard bytes.count >= (index + 1) * 8 else { return 0 }
            return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) }
        }
        func wrap(_ entries: [(String, String)]) -> String {
            if map.keyTypes.isEmpty { return entries.first?.1 ?? "null" }
            return "{" + entries.map { "\(string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
        }
        switch map.kind {
        case .hist, .lhist:
            var groups: [[UInt8]: [Int: UInt64]] = [:]
            for element in elements {
                let scriptKey = Array(element.key.prefix(map.scriptKeySize))
                let bucket = Int(truncatingIfNeeded: u64(Array(element.key.dropFirst(map.scriptKeySize)), 0))
                groups[scriptKey, default: [:]][bucket, default: 0] += u64(element.value, 0)
            }
            // Same order as the text output: by total count.
            func total(_ key: [UInt8]) -> UInt64 { groups[key]!.values.reduce(0, +) }
            let entries = groups.keys.sorted { (total($0), keyText($0)) < (total($1), keyText($1)) }.map { key -> (String, String) in
                let buckets = groups[key]!
                let used = buckets.filter { $0.value > 0 }.keys
                guard let first = used.min(), let last = used.max() else { return (keyText(key), "[]") }
                let items = (first...last).map { index -> String in
                    let (low, high) = bucketBounds(index, kind: map.kind)
                    var fields: [String] = []
                    if let low { fields.append("\"min\": \(low)") }
                    if let high { fields.append("\"max\": \(high)") }
                    fields.append("\"count\": \((buckets[index] ?? 0) / divisor)")
                    return "{" + fields.joined(separator: ", ") + "}"
                }
                return (keyText(key), "[" + items.joined(separator: ", ") + "]")
            }
            return event("hist", "{\(string(map.name)): \(wrap(largest(entries)))}")
        case .avg, .stats:
            func average(_ value: [UInt8]) -> Int64 {
                let count = Int64(bitPattern: u64(value, 1))
                return count == 0 ? 0 : Int64(bitPattern: u64(value, 0)) / count
            }
            let entries = elements.sorted { average($0.value) < average($1.value) }.map { element -> (String, String) in
                let sum = Int64(bitPattern: u64(element.value, 0)), count = Int64(bitPattern: u64(element.value, 1))
                let average = count == 0 ? 0 : sum / count
                return (keyText(element.key), map.kind == .avg ? "\(average / Int64(divisor))" : "{\"count\": \(count), \"average\": \(average), \"total\": \(sum)}")
            }
            return event("stats", "{\(string(map.name)): \(wrap(largest(entries)))}")
        default:
            let valueType: TraceValueType
            switch map.kind {
            case .value(let type): valueType = type
            case .count: valueType = .integer(signed: false)
            case .sum(let signed), .min(let signed), .max(let signed): valueType = .integer(signed: signed)
            default: valueType = .integer(signed: true)
            }
            func number(_ value: [UInt8]) -> Int64 { Int64(bitPattern: u64(value, 0)) }
            let ordered = valueType.isString ? elements : elements.sorted { number($0.value) < number($1.value) }
            let entries = ordered.map { element -> (String, String) in
                if divisor > 1, case .integer(let signed) = valueType {
                    let bits = u64(element.value, 0)
                    return (keyText(element.key), signed ? String(Int64(bitPattern: bits) / Int64(bitPattern: divisor)) : String(bits / divisor))
                }
                return (keyText(element.key), element.value.withUnsafeBytes { value(valueType, $0, at: 0, symbols: symbols) })
            }
            return event("map", "{\(string(map.name)): \(wrap(largest(entries)))}")
        }
    }

    /// Inclusive bounds of a histogram bucket (nil: unbounded on that side).
    static func bucketBounds(_ index: Int, kind: TraceMapKind) -> (Int64?, Int64?) {
        switch kind {
        case .lhist(let low, let high, let step):
            let buckets = Int((high - low + step - 1) / step)
            if index == 0 { return (nil, low - 1) }
            if index > buckets { return (high, nil) }
            let start = low + Int64(index - 1) * step
            return (start, min(start + step, high) - 1)
        default:
            if index == 0 { return (nil, -1) }
            if index == 1 { return (0, 0) }
            let power = index - 2
            if power >= 62 { return (Int64(1) << 62, nil) }
            return (Int64(1) << power, (Int64(1) << (power + 1)) - 1)
        }
    }
}
