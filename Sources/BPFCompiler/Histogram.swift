/// BCC's text histograms (`print_log2_hist`, `print_linear_hist`), column for column, so tools'
/// output reads the same as the Python originals.
public enum Histogram {
    /// Bar width for the narrow layout; the wide layout (slots past 32) uses half.
    public static let maximumStars = 40

    /// A log2 histogram: slot `i` (i ≥ 1) counts values in [2^(i-1), 2^i - 1] (slot 1 also
    /// holds 0), as BPF code fills it with `bcc_log2l()`. Slot 0 is not printed. Empty when no
    /// slot past 0 is non-zero. `stripLeadingZero` omits empty rows before the first count.
    public static func log2(_ buckets: [UInt64], valueType: String = "value", stripLeadingZero: Bool = false) -> String {
        let lastUsed = buckets.lastIndex { $0 > 0 } ?? -1
        guard lastUsed > 0 else { return "" }
        let largest = buckets.max() ?? 0
        let wide = lastUsed > 32
        let stars = wide ? maximumStars / 2 : maximumStars
        var text = wide
            ? String(repeating: " ", count: 15) + padRight(valueType, 29) + " : count     distribution\n"
            : String(repeating: " ", count: 5) + padRight(valueType, 19) + " : count     distribution\n"
        var skipping = stripLeadingZero
        for slot in 1...lastUsed {
            let count = buckets[slot]
            if skipping {
                if count == 0 { continue }
                skipping = false
            }
            var low: UInt64 = slot >= 64 ? 1 << 63 : (UInt64(1) << UInt64(slot)) >> 1
            let high: UInt64 = slot >= 64 ? UInt64.max : (UInt64(1) << UInt64(slot)) - 1
            if low == high { low -= 1 }
            let width = wide ? 20 : 10
            text += padLeft(String(low), width) + " -> " + padRight(String(high), width) + " : "
                + padRight(String(count), 8) + " |" + bar(count, largest, stars) + "|\n"
        }
        return text
    }

    /// A linear histogram: one row per slot from 0 to the last non-zero one. Empty when every
    /// slot is zero.
    public static func linear(_ buckets: [UInt64], valueType: String = "value") -> String {
        guard let lastUsed = buckets.lastIndex(where: { $0 > 0 }) else { return "" }
        let largest = buckets.max() ?? 0
        var text = String(repeating: " ", count: 5) + padRight(valueType, 13) + " : count     distribution\n"
        for slot in 0...lastUsed {
            text += String(repeating: " ", count: 8) + padRight(String(slot), 10) + " : "
                + padRight(String(buckets[slot]), 8) + " |" + bar(buckets[slot], largest, maximumStars) + "|\n"
        }
        return text
    }

    /// `width * count / largest` stars (rounded down), padded with spaces to `width`.
    static func bar(_ count: UInt64, _ largest: UInt64, _ width: Int) -> String {
        let stars = largest == 0 ? 0 : min(width, Int((Double(width) * Double(count) / Double(largest)).rounded(.down)))
        return String(repeating: "*", count: stars) + String(repeating: " ", count: width - stars)
    }

    static func padRight(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    /// Several log2 histograms, each after a blank line and `<sectionHeader> = <name>` (BCC's
    /// layout for keys with a section).
    public static func log2Sections(_ sections: [(name: String, buckets: [UInt64])], valueType: String = "value",
                                    sectionHeader: String = "Bucket ptr", stripLeadingZero: Bool = false) -> String {
        sections.map { "\n\(sectionHeader) = \($0.name)\n" + log2($0.buckets, valueType: valueType, stripLeadingZero: stripLeadingZero) }.joined()
    }
}
