import BPF
import BPFObject
import Foundation
import Testing

/// The objects of bpf/include/tests (written against our libbpf-compatible headers) loaded by
/// us and by libbpf (bpftool prog loadall): each loads in both or in neither.
@Suite(.kernel, .serialized)
struct LoaderLibbpfParityTests {
    static let headers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bpf/include").path

    @Test func headerTestObjectsLoadLikeLibbpf() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/bpftool") else { return }
        let sources = try FileManager.default.contentsOfDirectory(atPath: Self.headers + "/tests").filter { $0.hasSuffix(".bpf.c") }.sorted()
        try #require(!sources.isEmpty)
        let vmlinuxDirectory = URL(fileURLWithPath: try LoaderFixtures.vmlinuxHeader.get()).deletingLastPathComponent().path
        var loadedByBoth = 0
        for source in sources {
            let object = LoaderFixtures.output + "/parity-" + source.replacingOccurrences(of: ".bpf.c", with: ".bpf.o")
            let clang = Process()
            clang.executableURL = URL(fileURLWithPath: LoaderFixtures.clang)
            clang.arguments = ["-target", "bpf", "-D__TARGET_ARCH_x86", "-g", "-O2", "-I", Self.headers, "-I", vmlinuxDirectory,
                               "-c", Self.headers + "/tests/" + source, "-o", object]
            clang.standardError = Pipe()
            try clang.run()
            clang.waitUntilExit()
            guard clang.terminationStatus == 0 else { continue } // e.g. needs another arch define
            let pin = "/sys/fs/bpf/objloader-parity-\(getpid())"
            let bpftool = Process()
            bpftool.executableURL = URL(fileURLWithPath: "/usr/sbin/bpftool")
            bpftool.arguments = ["prog", "loadall", object, pin]
            bpftool.standardError = Pipe()
            bpftool.standardOutput = Pipe()
            try bpftool.run()
            bpftool.waitUntilExit()
            try? FileManager.default.removeItem(atPath: pin)
            let ours = Result { try ObjectLoader(path: object).load() }
            let libbpfLoaded = bpftool.terminationStatus == 0
            let weLoaded = (try? ours.get()) != nil
            #expect(libbpfLoaded == weLoaded, "\(source): libbpf \(libbpfLoaded ? "loads" : "fails"), ours: \(ours)")
            if libbpfLoaded && weLoaded { loadedByBoth += 1 }
        }
        #expect(loadedByBoth >= 3)
    }
}
