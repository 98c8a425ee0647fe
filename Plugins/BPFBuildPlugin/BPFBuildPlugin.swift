import Foundation
import PackagePlugin

/// Builds the `.bpf.c` files of a target into BPF objects and typed Swift skeletons.
///
/// Each `NAME.bpf.c` anywhere under the target's directory becomes `NAME.skeleton.swift` with
/// `struct <Name>Skeleton`, compiled into the target. SwiftPM refuses a Swift target that holds
/// C files ("mixed language source files") before any plugin runs, so the target must exclude
/// them: keep them in a `bpf/` subdirectory and write `exclude: ["bpf"]` once.
///
/// vmlinux.h: a `vmlinux.h` checked into the target (next to the `.bpf.c`, or in a directory
/// above it inside the target) is used as is, for reproducible builds; otherwise one is written
/// from the running kernel's BTF and cached per kernel (release and BTF contents).
@main
struct BPFBuildPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        guard let module = target.sourceModule as? SwiftSourceModuleTarget else { return [] }
        let targetDirectory = module.directoryURL.standardizedFileURL
        let files = filesUnder(targetDirectory)
        let sources = files.filter { $0.lastPathComponent.hasSuffix(".bpf.c") }
        guard !sources.isEmpty else { return [] }
        // Headers the BPF sources may include: a change to any of them recompiles the objects.
        let headers = files.filter { $0.pathExtension == "h" }
        let worker = try context.tool(named: "swiftbpf-skeleton").url
        let clang = try toolchainClang(context)
        let work = context.pluginWorkDirectoryURL
        // This file is Plugins/BPFBuildPlugin/BPFBuildPlugin.swift in the SwiftBPF package.
        let include = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bpf/include")

        var commands: [Command] = []
        for source in sources {
            let name = String(source.lastPathComponent.dropLast(".bpf.c".count))
            let object = work.appendingPathComponent("\(name).bpf.o")
            let skeleton = work.appendingPathComponent("\(name).skeleton.swift")
            let vmlinux: [String]
            if let checkedIn = checkedInVmlinuxHeader(for: source, in: targetDirectory) {
                vmlinux = ["--vmlinux-header", checkedIn.path]
            } else {
                vmlinux = ["--vmlinux-cache", work.appendingPathComponent("vmlinux").path]
            }
            // One command per object: only the Swift file is a declared output (a declared .o
            // or .h would become a resource or header of the target).
            commands.append(.buildCommand(
                displayName: "Compiling BPF \(source.lastPathComponent) and generating \(name).skeleton.swift", executable: worker,
                arguments: ["build", "--clang", clang.path, "--include", include.path] + vmlinux
                    + ["--source", source.path, "--object", object.path, "--output", skeleton.path, "--name", name],
                inputFiles: [source, worker] + headers, outputFiles: [skeleton]))
        }
        return commands
    }

    /// Every regular file under the target's directory (excluded ones too: that is where the
    /// `.bpf.c` files are).
    func filesUnder(_ directory: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        return walker.compactMap { $0 as? URL }
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .map(\.standardizedFileURL)
            .sorted { $0.path < $1.path }
    }

    /// The nearest `vmlinux.h` from the source's directory up to the target's directory.
    func checkedInVmlinuxHeader(for source: URL, in targetDirectory: URL) -> URL? {
        var directory = source.deletingLastPathComponent().standardizedFileURL
        while directory.path.hasPrefix(targetDirectory.path) {
            let candidate = directory.appendingPathComponent("vmlinux.h")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            guard directory.path != targetDirectory.path else { break }
            directory = directory.deletingLastPathComponent().standardizedFileURL
        }
        return nil
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
