// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "SwiftBPF",
    products: [
        .library(name: "BPF", targets: ["BPF"]),
        .library(name: "BPFObject", targets: ["BPFObject"]),
        .library(name: "BPFTrace", targets: ["BPFTrace"]),
        .library(name: "BPFCompiler", targets: ["BPFCompiler"]),
        .executable(name: "swiftbpf", targets: ["swiftbpf"]),
        .plugin(name: "BPFBuildPlugin", targets: ["BPFBuildPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation` (scripts/docs.sh): a command plugin, nothing is linked.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The few calls Swift cannot make (variadic syscall(2), ioctl) and the UAPI structs.
        .target(name: "CBPFSys"),
        // Pure: instruction set, ELF, BTF, object specs. No syscalls.
        .target(name: "BPFObject"),
        // Kernel-facing: syscalls, maps, programs, links, event streams.
        .target(name: "BPF", dependencies: ["BPFObject", "CBPFSys"]),
        // The tracing language: syntax (pure, Foundation only, fuzzable alone), later sema and codegen.
        .target(name: "BPFTrace", dependencies: ["BPF", "BPFObject"]),
        // BCC-style: C source compiled at run time with the toolchain's clang, then loaded.
        .target(name: "BPFCompiler", dependencies: ["BPF", "BPFObject"]),
        .executableTarget(
            name: "swiftbpf",
            dependencies: ["BPF", "BPFObject", "BPFTrace", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Typed skeletons: BPFBuildPlugin compiles a target's .bpf.c files and runs the worker.
        .executableTarget(name: "swiftbpf-skeleton", dependencies: ["BPFObject"]),
        .plugin(name: "BPFBuildPlugin", capability: .buildTool(), dependencies: ["swiftbpf-skeleton"]),
        // Ring and perf buffer consumer benchmark (Benchmarks/run-ringbuf.sh runs it against libbpf).
        .executableTarget(name: "swiftbpf-bench-ringbuf", dependencies: ["BPF", "BPFObject"], path: "Benchmarks/RingBuffer"),
        // Tracing attach benchmark (Benchmarks/run-tracing.sh runs it against libbpf).
        .executableTarget(name: "swiftbpf-bench-tracing", dependencies: ["BPF", "BPFObject"], path: "Benchmarks/Tracing"),
        // Benchmarks/run-btf.sh: BTF parsing against libbpf's btf__parse.
        .executableTarget(name: "swiftbpf-bench-btf", dependencies: ["BPFObject"], path: "Benchmarks/BTFParse"),
        // Benchmarks/run-objload.sh: whole-object load (parse, CO-RE, maps, programs) against libbpf.
        .executableTarget(name: "swiftbpf-bench-objload", dependencies: ["BPF", "BPFObject"], path: "Benchmarks/ObjectLoad"),
        // Benchmarks/run-decode.sh: ring buffer records decoded into skeleton structs against libbpf.
        // Its BPF side (bpf/, with a checked-in vmlinux.h) goes through BPFBuildPlugin like a user's target.
        .executableTarget(name: "swiftbpf-bench-decode", dependencies: ["BPF", "BPFObject"], path: "Benchmarks/SkeletonDecode",
                          exclude: ["bpf"], plugins: ["BPFBuildPlugin"]),
        // Benchmarks/run-trace.sh: `swiftbpf trace` against bpftrace (start-up, RSS, instructions, printf rate).
        .executableTarget(name: "swiftbpf-bench-trace", dependencies: ["BPF", "BPFObject"], path: "Benchmarks/Trace"),
        // What every test target shares (running commands); built only for the tests.
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "BPFObjectTests", dependencies: ["BPFObject", "TestSupport"]),
        .testTarget(name: "BPFCompilerTests", dependencies: ["BPFCompiler", "BPF", "BPFObject", "TestSupport"]),
        .testTarget(name: "BPFTraceTests", dependencies: ["BPFTrace", "TestSupport"], exclude: ["Resources"]),
        // Fixtures/ holds BPF C sources the tests compile with clang at run time.
        .testTarget(name: "BPFTests", dependencies: ["BPF", "BPFObject", "BPFTrace", "CBPFSys", "TestSupport"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
