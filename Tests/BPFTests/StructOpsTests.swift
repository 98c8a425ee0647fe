@testable import BPF
import BPFObject
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// struct_ops from objects: a TCP congestion control written in BPF (Fixtures/objects/
/// struct_ops.bpf.c) is registered through its `.struct_ops.link` table, used by a real loopback
/// connection, and unregistered when the link closes.
@Suite(.kernel, .serialized)
struct StructOpsTests {
    static let name = "sbpf_ldr_cc"

    static func availableCongestionControls() throws -> [String] {
        try String(contentsOfFile: "/proc/sys/net/ipv4/tcp_available_congestion_control", encoding: .utf8)
            .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    /// Connects a loopback TCP socket that asks for congestion control `name`; returns the
    /// setsockopt(TCP_CONGESTION) errno (0 on success).
    static func connectUsing(_ name: String) throws -> Int32 {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener); close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        try #require(bound && listen(listener, 1) == 0)
        let result = name.withCString { setsockopt(client, Int32(IPPROTO_TCP), TCP_CONGESTION, $0, socklen_t(strlen($0))) }
        guard result == 0 else { return errno }
        let connected = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
        }
        try #require(connected == 0)
        let accepted = accept(listener, nil, nil)
        if accepted >= 0 { close(accepted) }
        return 0
    }

    /// Compiles `source` with our bpf/include headers and the generated vmlinux.h.
    static func compile(_ source: String) throws -> String {
        _ = try LoaderFixtures.vmlinuxHeader.get()
        let include = URL(fileURLWithPath: LoaderFixtures.directory).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("bpf/include").path
        let object = LoaderFixtures.output + "/" + (source as NSString).lastPathComponent.replacingOccurrences(of: ".bpf.c", with: ".bpf.o")
        #if arch(x86_64)
        let arch = "-D__TARGET_ARCH_x86"
        #else
        let arch = "-D__TARGET_ARCH_arm64"
        #endif
        let compiled = try CommandRunner.run(LoaderFixtures.clang, ["-target", "bpf", arch, "-g", "-O2", "-I", include,
                                                                    "-I", LoaderFixtures.output, "-c", source, "-o", object])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        return object
    }

    static var fixture: String { LoaderFixtures.directory + "/struct_ops.bpf.c" }

    @Test func congestionControlRegistersAndRuns() throws {
        let object = try ObjectLoader(path: try Self.compile(Self.fixture)).load()
        #expect(object.programs["sbpf_unused"] == nil)
        #expect(object.warnings.contains { $0.contains("sbpf_unused") })
        #expect(try object.map(named: Self.name).type == .structOps)
        #expect(try object.programs["sbpf_init"].map { try $0.info().type } == .structOps)
        #expect(!(try Self.availableCongestionControls()).contains(Self.name))

        let link = try object.attachStructOps(Self.name)
        #expect(link.kernelLink != nil)
        #expect(try Self.availableCongestionControls().contains(Self.name))
        #expect(try Self.connectUsing(Self.name) == 0)
        #expect(try object.global("inits", as: Int64.self) >= 1, "tcp_init_congestion_control ran our init")

        // A second table with the same name is refused, saying why.
        let twin = try ObjectLoader(path: try Self.compile(Self.fixture)).load()
        #expect {
            try twin.attachStructOps(Self.name)
        } throws: { error in
            "\(error)".contains("EEXIST") && "\(error)".contains("unique")
        }

        try link.close()
        #expect(!(try Self.availableCongestionControls()).contains(Self.name))
        #expect(try Self.connectUsing(Self.name) == ENOENT)
    }

    /// A struct the kernel does not let BPF implement is refused at load, naming what is missing.
    @Test func unsupportedStructIsRefusedClearly() throws {
        let source = LoaderFixtures.output + "/struct_ops_refused.bpf.c"
        try """
            #include "vmlinux.h"
            #include <bpf/bpf_helpers.h>
            #include <bpf/bpf_tracing.h>
            char LICENSE[] SEC("license") = "GPL";
            SEC("struct_ops/sbpf_open")
            int BPF_PROG(sbpf_open, struct inode *inode, struct file *file) { return 0; }
            SEC(".struct_ops")
            struct file_operations sbpf_fops = { .open = (void *)sbpf_open };
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let object = try Self.compile(source)
        let spec = try ObjectLoader(path: object).spec
        #expect(spec.structOps.map(\.typeName) == ["file_operations"])
        #expect(spec.structOps.first?.programs == ["open": "sbpf_open"])
        #expect {
            try ObjectLoader(path: object).load()
        } throws: { error in
            "\(error)".contains("bpf_struct_ops_file_operations")
        }
    }
}
