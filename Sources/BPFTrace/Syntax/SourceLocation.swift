import Foundation

/// A point in a script: 1-based line and column (columns count bytes, as bpftrace's do) and the
/// 0-based byte offset into the UTF-8 source.
public struct SourcePosition: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var offset: Int

    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }

    public static let start = SourcePosition(line: 1, column: 1, offset: 0)

    public var description: String { "\(line):\(column)" }
}

/// A half-open range of source: `begin` is the first byte, `end` the position just after the last.
public struct SourceRange: Hashable, Sendable, CustomStringConvertible {
    public var begin: SourcePosition
    public var end: SourcePosition

    public init(begin: SourcePosition, end: SourcePosition) {
        self.begin = begin
        self.end = end
    }

    public init(at position: SourcePosition) {
        self.init(begin: position, end: position)
    }

    public var bytes: Range<Int> { begin.offset..<max(begin.offset, end.offset) }

    /// The smallest range covering both.
    public func union(_ other: SourceRange) -> SourceRange {
        SourceRange(begin: begin.offset <= other.begin.offset ? begin : other.begin,
                    end: end.offset >= other.end.offset ? end : other.end)
    }

    public var description: String {
        begin.line == end.line ? "\(begin.line):\(begin.column)-\(end.column)" : "\(begin.line)-\(end.line)"
    }
}

/// A script and the name diagnostics call it by (`stdin` for `-e` programs, as bpftrace does).
public struct SourceFile: Sendable {
    public var name: String
    public var text: String
    public let bytes: [UInt8]

    public init(name: String, text: String) {
        self.name = name
        self.text = text
        self.bytes = Array(text.utf8)
    }

    /// The text of 1-based `line` without its newline, or nil past the end.
    public func line(_ number: Int) -> String? {
        guard number >= 1 else { return nil }
        var current = 1
        var start = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                if current == number { break }
                current += 1
                start = index + 1
            }
            index += 1
        }
        guard current == number, start <= bytes.count else { return nil }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    public func text(of range: SourceRange) -> String {
        let bytesRange = range.bytes.clamped(to: 0..<bytes.count)
        return String(decoding: bytes[bytesRange], as: UTF8.self)
    }
}
