import Foundation
import PackagePlugin

/// Builds the `.bpf.c` files of a target into BPF objects and typed Swift skeletons.
/// Each `NAME.bpf.c` under the target's directory (list it in `exclude:` so SwiftPM does not
/// compile it as C) becomes `NAME.skeleton.swift` with `struct <Name>Skeleton`, compiled into
/// the target. vmlinux.h is written from the running kernel's BTF, once per kernel release.
@main
struct BPFBuildPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        guard let module = target.sourceModule else { return [] }
        guard let swiftModule = module as? SwiftSourceModuleTarget else { return [] }
        let sources = bpfSources(in: swiftModule.directoryURL)
        guard !sources.isEmpty else { return [] }
        let worker = try context.tool(named: "swiftbpf-skeleton").url
        let clang = try toolchainClang(context)
        let work = context.pluginWorkDirectoryURL
        let release = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        let vmlinuxDirectory = work.appendingPathComponent("vmlinux-\(release)")
        // This file is Plugins/BPFBuildPlugin/BPFBuildPlugin.swift in the SwiftBPF package.
        let include = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bpf/include")

        var commands: [Command] = []
        for source in sources {
            let name = String(source.lastPathComponent.dropLast(".bpf.c".count))
            let object = work.appendingPathComponent("\(name).bpf.o")
            let skeleton = work.appendingPathComponent("\(name).skeleton.swift")
            // One command per object: only the Swift file is a declared output (a declared .o
            // or .h would become a resource or header of the target).
            commands.append(.buildCommand(
                displayName: "Compiling BPF \(source.lastPathComponent) and generating \(name).skeleton.swift", executable: worker,
                arguments: ["build", clang.path, include.path, vmlinuxDirectory.path, source.path, object.path, skeleton.path, name],
                inputFiles: [source, worker], outputFiles: [skeleton]))
        }
        return commands
    }

    /// `*.bpf.c` anywhere under the target's directory.
    func bpfSources(in directory: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }.filter { $0.lastPathComponent.hasSuffix(".bpf.c") }
            .sorted { $0.path < $1.path }
    }

    /// The clang shipped next to swiftc (it has the BPF target), else the first on PATH.
    func toolchainClang(_ context: PluginContext) throws -> URL {
        if let tool = try? context.tool(named: "clang") { return tool.url }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("clang")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw BPFBuildPluginError.noClang
    }
}

enum BPFBuildPluginError: Error, CustomStringConvertible {
    case noClang
    var description: String { "BPFBuildPlugin: no clang found (the Swift toolchain's clang, or one on PATH, with the BPF target)" }
}
