// swift-tools-version:6.0
// The classic eBPF examples, runnable in Swift: `swift run --package-path Examples NAME --help`.
// This package depends on SwiftBPF by path, exactly as a user's package would.
import PackageDescription

/// An example executable: `Sources/NAME/main.swift` plus, optionally, `Sources/NAME/NAME.bpf.c`,
/// which BPFBuildPlugin compiles into a typed skeleton (`<Name>Skeleton`).
func example(_ name: String, bpf: Bool = true) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            "ExampleSupport",
            .product(name: "BPF", package: "SwiftBPF"),
            .product(name: "BPFObject", package: "SwiftBPF"),
            .product(name: "BPFCompiler", package: "SwiftBPF"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        exclude: bpf ? ["\(name).bpf.c"] : [],
        plugins: bpf ? [.plugin(name: "BPFBuildPlugin", package: "SwiftBPF")] : []
    )
}

let examples = [
    "hello-func",
    "xdp-hello",
    "xdp-ping",
    "tc-ping",
    "hello-tail",
    "listen-events",
    "hello-buffer-config",
    "exec-hooks",
    "seccomp-profile",
    "bash-readline",
    "ssl-sniff",
    "run-queue",
    "verifier-errors",
]

/// BCC-style examples: the C text lives in the Swift source and BPFModule compiles it at run time.
let bccExamples = [
    "hello-world",
    "hello-fields",
    "hello-perf-output",
    "hello-map",
    "sync-timing",
]

let package = Package(
    name: "SwiftBPFExamples",
    dependencies: [
        .package(name: "SwiftBPF", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // What every example shares: Ctrl-C handling, line-buffered output, trace_pipe printing.
        .target(name: "ExampleSupport", dependencies: [.product(name: "BPF", package: "SwiftBPF")]),
        .testTarget(name: "ExamplesTests", dependencies: ["ExampleSupport"]),
    ] + examples.map { example($0) } + bccExamples.map { example($0, bpf: false) },
    swiftLanguageModes: [.v5]
)
