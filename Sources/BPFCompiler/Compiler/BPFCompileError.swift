/// C source that clang refused. `diagnostics` is clang's output as it printed it, with
/// `file:line:column:` locations in the caller's text (the source name is the module's
/// `sourceName`); `line`/`column` are those of the first error.
public struct BPFCompileError: Error, CustomStringConvertible, Sendable {
    public var sourceName: String
    public var line: Int?
    public var column: Int?
    /// The first error's message (`use of undeclared identifier 'x'`).
    public var message: String
    public var diagnostics: String

    public var description: String {
        let location = line.map { ":\($0)" + (column.map { ":\($0)" } ?? "") } ?? ""
        return "compiling \(sourceName)\(location) failed: \(message)\n\(diagnostics)"
    }

    /// Reads clang's diagnostics: the first `<sourceName>:L:C: error: M` or `fatal error:` line.
    init(sourceName: String, diagnostics: String) {
        self.sourceName = sourceName
        self.diagnostics = diagnostics
        message = "clang failed"
        for line in diagnostics.split(separator: "\n") {
            guard let errorRange = line.range(of: ": error: ") ?? line.range(of: ": fatal error: ") else { continue }
            message = String(line[errorRange.upperBound...])
            let location = line[..<errorRange.lowerBound].split(separator: ":", omittingEmptySubsequences: false)
            if location.count >= 3, location[0].hasSuffix(sourceName), let lineNumber = Int(location[1]), let columnNumber = Int(location[2]) {
                self.line = lineNumber
                self.column = columnNumber
            }
            break
        }
    }
}
