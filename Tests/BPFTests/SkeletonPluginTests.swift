import BPF
import Foundation
import Testing

/// The SwiftPM round trip: a temporary package depending on this one by path, with one
/// `.bpf.c` and a `main` using the skeleton BPFBuildPlugin generates, built with `swift build`
/// and run against the kernel. The package lives at a fixed path so repeated runs build
/// incrementally (the first run builds this package's library targets: minutes).
@Suite(.kernel, .serialized) struct SkeletonPluginTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let package = FileManager.default.temporaryDirectory.appendingPathComponent("sbpf-skeleton-plugin-package").path

    /// The runtime test's program and runner; the plugin finds the event type from the comment.
    static let bpfSource = "// swiftbpf:event-type event\n" + SkeletonRuntimeTests.bpfSource
    static let mainSource = SkeletonRuntimeTests.runnerSource

    static func manifest() -> String {
        let identity = URL(fileURLWithPath: root).lastPathComponent.lowercased()
        return """
        // swift-tools-version:6.0
        import PackageDescription

        let package = Package(
            name: "SkeletonPluginDemo",
            dependencies: [.package(path: "\(root)")],
            targets: [
                .executableTarget(
                    name: "demo",
                    dependencies: [.product(name: "BPF", package: "\(identity)"), .product(name: "BPFObject", package: "\(identity)")],
                    exclude: ["count.bpf.c"],
                    plugins: [.plugin(name: "BPFBuildPlugin", package: "\(identity)")]
                ),
            ],
            swiftLanguageModes: [.v5]
        )
        """
    }

    static func swiftBuild() throws -> SkeletonRuntimeTests.Output {
        try SkeletonRuntimeTests.run("/opt/swift/usr/bin/swift", ["build", "--package-path", package])
    }

    @Test func pluginBuildsSkeletonAndProgramRuns() throws {
        let sources = Self.package + "/Sources/demo"
        try FileManager.default.createDirectory(atPath: sources, withIntermediateDirectories: true)
        try Self.manifest().write(toFile: Self.package + "/Package.swift", atomically: true, encoding: .utf8)
        try Self.bpfSource.write(toFile: sources + "/count.bpf.c", atomically: true, encoding: .utf8)
        try Self.mainSource.write(toFile: sources + "/Demo.swift", atomically: true, encoding: .utf8)

        let build = try Self.swiftBuild()
        try #require(build.status == 0, "\(build.text)")
        let result = try SkeletonRuntimeTests.run(Self.package + "/.build/debug/demo", [])
        #expect(result.status == 0, "\(result.text)")
        #expect(result.text.contains("events=5 seqs=[0, 1, 2, 3, 4] own=true"), "\(result.text)")
        #expect(result.text.contains("comm=demo matched=5 calls=5 max=32"), "\(result.text)")

        // A C error reaches the build output with its file and line.
        let broken = Self.bpfSource.replacingOccurrences(of: "e->seq = seq;", with: "e->seq = undeclared_name;")
        try broken.write(toFile: sources + "/count.bpf.c", atomically: true, encoding: .utf8)
        defer { try? Self.bpfSource.write(toFile: sources + "/count.bpf.c", atomically: true, encoding: .utf8) }
        let failed = try Self.swiftBuild()
        #expect(failed.status != 0)
        let line = Self.bpfSource.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("e->seq = seq;") }.map { $0 + 1 } ?? 0
        #expect(failed.text.contains("count.bpf.c:\(line):"), "\(failed.text)")
        #expect(failed.text.contains("undeclared_name"), "\(failed.text)")
    }
}
