import Foundation

/// One probe specifier, e.g. `kprobe:vfs_read`, `uprobe:/bin/bash:readline`, `interval:s:1`.
/// The raw text is kept; `init` splits it into bpftrace's fields (provider, target, namespace,
/// function, offset, frequency...) without touching the system, so wildcards stay unexpanded.
public struct AttachPoint: Sendable, Equatable {
    public var raw: String
    /// Exact range of the specifier's characters.
    public var range: SourceRange
    /// Where bpftrace reports errors about it: from the end of the previous token.
    public var reportRange: SourceRange

    /// The full probe type (`kprobe` for `k`), or the raw first field when it names no probe type.
    public var provider: String = ""
    /// Binary or library (uprobe, usdt), tracepoint category, unit (profile, interval), event
    /// (software, hardware), module (kfunc), iterator.
    public var target: String = ""
    /// The USDT provider.
    public var namespace: String = ""
    /// Function, tracepoint name, USDT probe name.
    public var function: String = ""
    public var offset: UInt64 = 0
    /// A raw address (uprobe on an address, watchpoint address).
    public var address: UInt64 = 0
    /// Rate or period (profile, interval, software, hardware).
    public var frequency: UInt64 = 0
    /// Watchpoint length and mode.
    public var length: UInt64 = 0
    public var mode: String = ""
    /// A problem found while splitting, for the semantic pass to report.
    public var problem: String?

    public init(raw: String, range: SourceRange) {
        self.raw = raw
        self.range = range
        self.reportRange = range
        split()
    }

    public var isKnownProvider: Bool { BPFTraceLanguage.probeType(named: provider) == provider }

    /// True when a wildcard must be expanded against the system.
    public var needsExpansion: Bool {
        [target, namespace, function].contains { field in
            field.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
        }
    }

    /// The name bpftrace prints for this probe: provider[:target][:namespace][:function[+offset]]
    /// [:address][:frequency][:length][:mode].
    public var name: String {
        if problem != nil || !isKnownProvider { return raw }
        var n = provider
        if !target.isEmpty { n += ":" + target }
        if !namespace.isEmpty { n += ":" + namespace }
        if !function.isEmpty {
            n += ":" + function
            if offset != 0 { n += "+\(offset)" }
        }
        if address != 0 { n += ":\(address)" }
        if frequency != 0 { n += ":\(frequency)" }
        if length != 0 { n += ":\(length)" }
        if !mode.isEmpty { n += ":" + mode }
        return n
    }

    /// Splits on ':' outside quotes; quotes are removed from the fields. Works on UTF-8 bytes
    /// (the separators are ASCII and never part of a multi-byte sequence), as bpftrace does on
    /// its std::string; walking Characters took 11% of the parser fuzz target's time.
    static func fields(of text: String) -> [String] {
        var fields: [String] = []
        var current: [UInt8] = []
        var quoted = false
        var escaped = false
        for byte in text.utf8 {
            if escaped {
                current.append(byte)
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                quoted.toggle()
            } else if byte == UInt8(ascii: ":") && !quoted {
                fields.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(byte)
            }
        }
        fields.append(String(decoding: current, as: UTF8.self))
        return fields
    }

    private static func number(_ text: String) -> UInt64? {
        guard let first = text.utf8.first, Lexer.isDigit(first) else { return nil }
        if case .success(let value) = IntegerLiteral.parse(text) { return value }
        return nil
    }

    /// `name+offset` → (name, offset).
    private mutating func splitOffset(_ text: String) -> String {
        guard let plus = text.lastIndex(of: "+") else { return text }
        let offsetText = String(text[text.index(after: plus)...])
        guard let value = AttachPoint.number(offsetText) else {
            problem = "invalid offset '\(offsetText)' in \(raw)"
            return text
        }
        offset = value
        return String(text[..<plus])
    }

    private mutating func split() {
        let parts = AttachPoint.fields(of: raw)
        let type = BPFTraceLanguage.probeType(named: parts[0])
        provider = type ?? parts[0]
        guard let type else {
            problem = "Invalid probe type: \(parts[0])"
            return
        }
        let count = parts.count
        func requireCount(_ allowed: ClosedRange<Int>) -> Bool {
            if allowed.contains(count) { return true }
            problem = "\(type) probe type requires \(allowed.lowerBound == allowed.upperBound ? "\(allowed.lowerBound - 1)" : "\(allowed.lowerBound - 1) to \(allowed.upperBound - 1)") arguments, found \(count - 1)"
            return false
        }
        switch type {
        case "BEGIN", "END":
            _ = requireCount(1...1)
        case "kprobe", "kretprobe":
            // kprobe:fn[+off], kprobe:module:fn
            guard requireCount(2...3) else { return }
            if count == 3 { target = parts[1] }
            function = type == "kprobe" ? splitOffset(parts[count - 1]) : parts[count - 1]
            if function.isEmpty { problem = "\(type) should specify a function" }
        case "uprobe", "uretprobe":
            // uprobe:binary:fn[+off], uprobe:binary:address, uprobe:binary:lang:fn
            guard requireCount(3...4) else { return }
            target = parts[1]
            let last = parts[count - 1]
            if count == 4 { namespace = parts[2] }
            if let value = AttachPoint.number(last) {
                address = value
            } else {
                function = type == "uprobe" ? splitOffset(last) : last
            }
            if target.isEmpty { problem = "\(type) should specify a binary or library" }
        case "usdt":
            // usdt:binary:[provider:]probe
            guard requireCount(2...4) else { return }
            if count == 2 { function = parts[1] }
            if count == 3 { target = parts[1]; function = parts[2] }
            if count == 4 { target = parts[1]; namespace = parts[2]; function = parts[3] }
        case "tracepoint":
            guard requireCount(3...3) else { return }
            target = parts[1]
            function = parts[2]
        case "rawtracepoint":
            guard requireCount(2...3) else { return }
            if count == 3 { target = parts[1] }
            function = parts[count - 1]
        case "profile", "interval":
            // profile:hz:99, interval:s:1 (a bare rate means hz / ms)
            guard requireCount(2...3) else { return }
            target = count == 3 ? parts[1] : (type == "profile" ? "hz" : "ms")
            guard let rate = AttachPoint.number(parts[count - 1]) else {
                problem = "\(type) rate must be an integer: \(parts[count - 1])"
                return
            }
            frequency = rate
            let units: Set<String> = type == "profile" ? ["hz", "s", "ms", "us"] : ["s", "ms", "us", "hz"]
            if !units.contains(target) { problem = "\(parts[1]) is not an accepted unit of time" }
        case "software", "hardware":
            guard requireCount(2...3) else { return }
            target = parts[1]
            if count == 3 {
                guard let value = AttachPoint.number(parts[2]) else {
                    problem = "\(type) count must be an integer: \(parts[2])"
                    return
                }
                frequency = value
            }
        case "watchpoint", "asyncwatchpoint":
            // watchpoint:address:length:mode, watchpoint:fn+arg:length:mode
            guard requireCount(4...4) else { return }
            if let value = AttachPoint.number(parts[1]) { address = value } else { function = parts[1] }
            guard let value = AttachPoint.number(parts[2]) else {
                problem = "\(type) length must be an integer: \(parts[2])"
                return
            }
            length = value
            mode = parts[3]
        case "kfunc", "kretfunc":
            guard requireCount(2...3) else { return }
            if count == 3 { target = parts[1] }
            function = parts[count - 1]
        case "iter":
            guard requireCount(2...3) else { return }
            function = parts[1]
            if count == 3 { target = parts[2] }
        default:
            break
        }
    }
}
