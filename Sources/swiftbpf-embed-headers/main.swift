import Foundation

// swiftbpf-embed-headers OUTPUT HEADER...: writes a Swift file holding each header's text
// (`EmbeddedHeaders.files`, paths relative to the include directory: `bpf/NAME.h`), for the
// EmbedBPFHeaders build plugin.
let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: swiftbpf-embed-headers OUTPUT HEADER...\n".utf8))
    exit(2)
}
var source = """
// Generated at build time by the EmbedBPFHeaders plugin from bpf/include/bpf/*.h.

/// The text of SwiftBPF's BPF-side headers, by path relative to an include directory.
enum EmbeddedHeaders {
    static let files: [(path: String, text: String)] = [

"""
for header in arguments.dropFirst() {
    let text = try String(contentsOfFile: header, encoding: .utf8)
    // A raw string literal whose delimiter does not occur in the text.
    var delimiter = "#"
    while text.contains("\"\"\"" + delimiter) { delimiter += "#" }
    let name = "bpf/" + URL(fileURLWithPath: header).lastPathComponent
    source += "        (\"\(name)\", \(delimiter)\"\"\"\n\(text)\(text.hasSuffix("\n") ? "" : "\n")\"\"\"\(delimiter)),\n"
}
source += "    ]\n}\n"
try source.write(toFile: output, atomically: true, encoding: .utf8)
