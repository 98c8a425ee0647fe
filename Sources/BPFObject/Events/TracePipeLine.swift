/// One line of the kernel's trace output (/sys/kernel/tracing/trace_pipe), split into the
/// fields the default output format prints (kernel/trace/trace_output.c):
///
/// ```
///            <...>-1234    [001] d..31  1234.567890: bpf_trace_printk: hello
///   TASK-PID       (TGID)  [CPU] FLAGS  TIMESTAMP:    EVENT:            MESSAGE
/// ```
///
/// The `(TGID)` column appears only with the `record-tgid` option and the flags column only with
/// `irq-info` (on by default). The task is the thread's comm, right-aligned in 16 columns; it may
/// itself contain spaces, dashes and digits (`kworker/u8:2-events`), or be `<...>` when the
/// kernel no longer knows it, so the parser anchors on what follows it instead.
///
/// Parsing never traps: lines that are not events (`# tracer: nop`, `CPU:1 [LOST 12 EVENTS]`)
/// give nil.
public struct TracePipeLine: Hashable, Sendable {
    /// The line as read, without its newline (bpftool's `prog tracelog` prints exactly this).
    public var raw: String
    /// The task's comm as printed (`<...>` when unknown, `<idle>` for the idle task).
    public var task: String
    public var pid: Int
    /// The thread group id, when the `record-tgid` option is on and the kernel knew it.
    public var tgid: Int?
    public var cpu: Int
    /// The irq-info flags (`d..31`: irqs off, need-resched, hard/soft irq, preempt depth,
    /// migrate-disable), nil when the column is absent.
    public var flags: String?
    /// The timestamp as printed (seconds with the trace clock's precision).
    public var timestampText: String
    /// The timestamp in seconds.
    public var timestamp: Double
    /// The event that printed the line (`bpf_trace_printk`; the address `0x00000001` on kernels
    /// where bpf_trace_printk went through trace_printk), nil if the line names none.
    public var event: String?
    /// What follows the event name: for bpf_trace_printk, the formatted text.
    public var message: String

    public init(raw: String, task: String, pid: Int, tgid: Int?, cpu: Int, flags: String?,
                timestampText: String, timestamp: Double, event: String?, message: String) {
        self.raw = raw
        self.task = task
        self.pid = pid
        self.tgid = tgid
        self.cpu = cpu
        self.flags = flags
        self.timestampText = timestampText
        self.timestamp = timestamp
        self.event = event
        self.message = message
    }

    /// Parses one line (a trailing newline is ignored); nil if it is not an event line.
    public init?(parsing line: some StringProtocol) {
        var bytes = Array(line.utf8)
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard let parsed = Self.parse(bytes) else { return nil }
        self = parsed
    }

    /// BCC's `trace_fields()` shape: (task, pid, cpu, flags, timestamp, message).
    public var bccFields: (task: String, pid: Int, cpu: Int, flags: String, timestamp: Double, message: String) {
        (task, pid, cpu, flags ?? "", timestamp, message)
    }

    private static func parse(_ bytes: [UInt8]) -> TracePipeLine? {
        let raw = String(decoding: bytes, as: UTF8.self)
        var start = 0
        while start < bytes.count, bytes[start] == UInt8(ascii: " ") { start += 1 }
        guard start < bytes.count, bytes[start] != UInt8(ascii: "#") else { return nil }
        // The task ends at the first '-' after which the rest of the header parses; the comm
        // can hold dashes too, so try each candidate from the left (comms are short, headers
        // are unambiguous enough that a false early match would need a comm ending in
        // "-<digits> [<digits>] <...>: ").
        var dash = start
        while dash < bytes.count {
            if bytes[dash] == UInt8(ascii: "-"), dash > start {
                if var header = parseHeader(bytes, from: dash + 1) {
                    header.task = String(decoding: bytes[start..<dash], as: UTF8.self)
                    header.raw = raw
                    return header
                }
            }
            dash += 1
        }
        return nil
    }

    /// Parses `PID [ (TGID)] [CPU] [FLAGS] TIMESTAMP: [EVENT: ]MESSAGE` starting at `index`.
    private static func parseHeader(_ bytes: [UInt8], from index: Int) -> TracePipeLine? {
        var cursor = Cursor(bytes: bytes, index: index)
        guard let pid = cursor.integer(), cursor.skipSpaces() > 0 else { return nil }
        var tgid: Int?
        if cursor.peek == UInt8(ascii: "(") {
            cursor.index += 1
            cursor.skipSpaces()
            let tgidStart = cursor.index
            while let byte = cursor.peek, byte != UInt8(ascii: ")") {
                guard byte == UInt8(ascii: "-") || isDigit(byte) else { return nil }
                cursor.index += 1
            }
            guard cursor.peek == UInt8(ascii: ")") else { return nil }
            tgid = Int(String(decoding: bytes[tgidStart..<cursor.index], as: UTF8.self))
            cursor.index += 1
            guard cursor.skipSpaces() > 0 else { return nil }
        }
        guard cursor.peek == UInt8(ascii: "[") else { return nil }
        cursor.index += 1
        guard let cpu = cursor.integer(), cursor.peek == UInt8(ascii: "]") else { return nil }
        cursor.index += 1
        guard cursor.skipSpaces() > 0 else { return nil }
        // Either FLAGS then the timestamp, or the timestamp directly (irq-info off).
        var flags: String?
        let timestamp: (text: String, value: Double)
        if let direct = cursor.lookingAtTimestamp() {
            timestamp = direct
        } else {
            let flagsStart = cursor.index
            while let byte = cursor.peek, byte != UInt8(ascii: " ") { cursor.index += 1 }
            guard (1...8).contains(cursor.index - flagsStart) else { return nil }
            flags = String(decoding: bytes[flagsStart..<cursor.index], as: UTF8.self)
            guard cursor.skipSpaces() > 0 else { return nil }
            guard let afterFlags = cursor.lookingAtTimestamp() else { return nil }
            timestamp = afterFlags
        }
        // `TIMESTAMP: ` — the cursor is on the ':'.
        cursor.index += 1
        if cursor.peek == UInt8(ascii: " ") { cursor.index += 1 }
        let rest = bytes[cursor.index...]
        var event: String?
        var message = String(decoding: rest, as: UTF8.self)
        // `EVENT: MESSAGE`, where EVENT is one token (a trace event name or an address).
        if let colon = rest.firstIndex(of: UInt8(ascii: ":")), colon > rest.startIndex,
           !rest[..<colon].contains(UInt8(ascii: " ")),
           colon + 1 == bytes.count || bytes[colon + 1] == UInt8(ascii: " ") {
            event = String(decoding: rest[..<colon], as: UTF8.self)
            message = String(decoding: bytes[min(colon + 2, bytes.count)...], as: UTF8.self)
        }
        return TracePipeLine(raw: "", task: "", pid: pid, tgid: tgid, cpu: cpu, flags: flags,
                             timestampText: timestamp.text, timestamp: timestamp.value, event: event, message: message)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    private struct Cursor {
        let bytes: [UInt8]
        var index: Int

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        @discardableResult
        mutating func skipSpaces() -> Int {
            let begin = index
            while peek == UInt8(ascii: " ") { index += 1 }
            return index - begin
        }

        /// A decimal integer of at most 18 digits (no overflow possible).
        mutating func integer() -> Int? {
            var value = 0
            var digits = 0
            while let byte = peek, isDigit(byte), digits < 18 {
                value = value * 10 + Int(byte - 48)
                digits += 1
                index += 1
            }
            if let byte = peek, isDigit(byte) { return nil }
            return digits > 0 ? value : nil
        }

        /// `DIGITS[.DIGITS]:` at the cursor: returns it and leaves the cursor on the ':';
        /// otherwise leaves the cursor where it was.
        mutating func lookingAtTimestamp() -> (text: String, value: Double)? {
            var end = index
            var sawDigit = false
            var sawDot = false
            while end < bytes.count {
                let byte = bytes[end]
                if isDigit(byte) { sawDigit = true } else if byte == UInt8(ascii: "."), !sawDot, sawDigit { sawDot = true } else { break }
                end += 1
            }
            guard sawDigit, end < bytes.count, bytes[end] == UInt8(ascii: ":"), bytes[end - 1] != UInt8(ascii: ".") else { return nil }
            let text = String(decoding: bytes[index..<end], as: UTF8.self)
            guard let value = Double(text) else { return nil }
            index = end
            return (text, value)
        }
    }
}
