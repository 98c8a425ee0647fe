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
        let range = diagnostic.range
        var out = file.name.isEmpty ? "" : file.name + ":"
        if range.begin.line < range.end.line {
            out += "\(range.begin.line)-\(range.end.line): \(diagnostic.severity.rawValue): \(diagnostic.message)\n"
            return out
        }
        out += "\(range.begin.line):\(range.begin.column)-\(range.end.column): "
        out += "\(diagnostic.severity.rawValue): \(diagnostic.message)\n"
        guard let line = sourceLine(range.begin.line), !line.isEmpty else { return out }
        var marker = ""
        let lineBytes = Array(line.utf8)
        out += String(decoding: lineBytes.flatMap { $0 == UInt8(ascii: "\t") ? Array("    ".utf8) : [$0] }, as: UTF8.self)
        out += "\n"
        for (index, byte) in lineBytes.enumerated() where index < range.end.column - 1 {
            let mark: Character = index < range.begin.column - 1 ? " " : "~"
            marker += byte == UInt8(ascii: "\t") ? String(repeating: mark, count: 4) : String(mark)
        }
        out += marker + "\n"
        return out
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map(render).joined()
    }

    /// The quoted line; bpftrace quotes nothing (not even the marker) when it is empty.
    private func sourceLine(_ number: Int) -> String? {
        file.line(number)
    }
}
