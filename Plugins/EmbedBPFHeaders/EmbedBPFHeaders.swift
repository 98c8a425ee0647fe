import Foundation
import PackagePlugin

/// Compiles the text of `bpf/include/bpf/*.h` into the target (`EmbeddedHeaders.files`) at
/// build time: BPFModule compiles C at run time inside programs that depend on SwiftBPF, where
/// the repository's bpf/include is nowhere to be found. The headers stay the one source.
@main
struct EmbedBPFHeaders: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let include = context.package.directoryURL.appendingPathComponent("bpf/include/bpf")
        let headers = try FileManager.default.contentsOfDirectory(atPath: include.path)
            .filter { $0.hasSuffix(".h") }.sorted().map { include.appendingPathComponent($0) }
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("EmbeddedHeaders.swift")
        return [.buildCommand(
            displayName: "Embedding BPF headers from bpf/include/bpf",
            executable: try context.tool(named: "swiftbpf-embed-headers").url,
            arguments: [output.path] + headers.map(\.path),
            inputFiles: headers, outputFiles: [output])]
    }
}
