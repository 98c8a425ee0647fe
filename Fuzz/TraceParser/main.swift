// libFuzzer entry for the tracing language front end: lexer, parser, attach point and C
// definition splitting, both tree printers and the diagnostic renderer, over arbitrary bytes.
// Built by Fuzz/run-trace.sh together with Sources/BPFTrace/Syntax/*.swift only.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func traceParserFuzzTest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let file = SourceFile(name: "fuzz.bt", text: text)
    let result = Parser.parse(file)
    _ = DiagnosticRenderer(file: file).render(result.diagnostics)
    if let program = result.program {
        _ = ASTPrinter.bpftraceTree(program)
        _ = ASTPrinter.sExpression(program)
        _ = program.cDefinitions.map(\.parsed)
        for probe in program.probes {
            for point in probe.attachPoints { _ = (point.name, point.needsExpansion) }
        }
    }
    // The attach point splitter also sees raw input directly.
    _ = AttachPoint(raw: text, range: SourceRange(at: .start)).name
    return 0
}
