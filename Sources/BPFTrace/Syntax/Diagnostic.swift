import Foundation

/// One message about a script, located in its source; used by every pass from the lexer to the
/// verifier mapping, and rendered the way bpftrace renders them so users' habits carry over.
public struct Diagnostic: Hashable, Sendable, Error, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error = "ERROR"
        case warning = "WARNING"
    }

    public var severity: Severity
    public var message: String
    /// The range bpftrace would report: for tokens its lexer's location, which starts after the
    /// last whitespace, so `1+;` reports `+;` for the `;`.
    public var range: SourceRange

    public init(_ severity: Severity, _ message: String, at range: SourceRange) {
        self.severity = severity
        self.message = message
        self.range = range
    }

    public static func error(_ message: String, at range: SourceRange) -> Diagnostic {
        Diagnostic(.error, message, at: range)
    }

    public static func warning(_ message: String, at range: SourceRange) -> Diagnostic {
        Diagnostic(.warning, message, at: range)
    }

    public var description: String { "\(range): \(severity.rawValue): \(message)" }
}

/// Collected diagnostics of one pass over one file.
public struct DiagnosticList: Sendable {
    public private(set) var all: [Diagnostic] = []

    public init() {}

    public var hasErrors: Bool { all.contains { $0.severity == .error } }
    public var errors: [Diagnostic] { all.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { all.filter { $0.severity == .warning } }

    public mutating func append(_ diagnostic: Diagnostic) { all.append(diagnostic) }
    mutating func truncate(to count: Int) {
        if all.count > count { all.removeLast(all.count - count) }
    }
    public mutating func error(_ message: String, at range: SourceRange) { all.append(.error(message, at: range)) }
    public mutating func warning(_ message: String, at range: SourceRange) { all.append(.warning(message, at: range)) }
}

/// Renders diagnostics in bpftrace's format:
///
///     stdin:1:16-18: ERROR: syntax error, unexpected ;
///     BEGIN { @x = 1 +; }
///                    ~~
///
/// A range over several lines prints `file:L1-L2: ERROR: message` without the source, tabs in the
/// quoted line become four spaces and their markers four characters, as bpftrace does.
public struct DiagnosticRenderer: Sendable {
    public var file: SourceFile

    public init(file: SourceFile) {
        self.file = file
    }

    public func render(_ diagnostic: Diagnostic) -> String {
        var lines: [Int: QuotedLine?] = [:]
        return render(diagnostic, lines: &lines)
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        // Each quoted line is prepared once: long lines with many diagnostics made rendering
        // quadratic (it was most of the parser fuzz target's time).
        var lines: [Int: QuotedLine?] = [:]
        var out = ""
        for diagnostic in diagnostics { out += render(diagnostic, lines: &lines) }
        return out
    }

    /// A source line as quoted under a diagnostic: tabs shown as four spaces.
    private struct QuotedLine {
        var text: String
        var byteCount: Int
        /// Byte indices of the tabs, ascending.
        var tabs: [Int]

        init(_ line: String) {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(line.utf8.count)
            tabs = []
            for (index, byte) in line.utf8.enumerated() {
                if byte == UInt8(ascii: "\t") {
                    tabs.append(index)
                    bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 4))
                } else {
                    bytes.append(byte)
                }
            }
            byteCount = line.utf8.count
            text = String(decoding: bytes, as: UTF8.self)
        }

        /// The display width of bytes `range` (a tab is four columns).
        func width(_ range: Range<Int>) -> Int {
            range.count + 3 * tabs.reduce(0) { $0 + (range.contains($1) ? 1 : 0) }
        }
    }

    private func render(_ diagnostic: Diagnostic, lines: inout [Int: QuotedLine?]) -> String {
        let range = diagnostic.range
        var out = file.name.isEmpty ? "" : file.name + ":"
        if range.begin.line < range.end.line {
            out += "\(range.begin.line)-\(range.end.line): \(diagnostic.severity.rawValue): \(diagnostic.message)\n"
            return out
        }
        out += "\(range.begin.line):\(range.begin.column)-\(range.end.column): "
        out += "\(diagnostic.severity.rawValue): \(diagnostic.message)\n"
        let cached: QuotedLine?
        if let known = lines[range.begin.line] {
            cached = known
        } else {
            cached = sourceLine(range.begin.line).flatMap { $0.isEmpty ? nil : QuotedLine($0) }
            lines[range.begin.line] = cached
        }
        guard let line = cached else { return out }
        // Under the line: spaces up to the range, '~' over it, as wide as the quoted bytes.
        let markedEnd = max(0, min(range.end.column - 1, line.byteCount))
        let rangeStart = max(0, min(range.begin.column - 1, markedEnd))
        out += line.text + "\n"
        out += String(repeating: " ", count: line.width(0..<rangeStart))
        out += String(repeating: "~", count: line.width(rangeStart..<markedEnd)) + "\n"
        return out
    }

    /// The quoted line; bpftrace quotes nothing (not even the marker) when it is empty.
    private func sourceLine(_ number: Int) -> String? {
        file.line(number)
    }
}
