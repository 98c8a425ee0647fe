import ExampleSupport
import Foundation
import Testing

@Suite(.kernel, .serialized) struct ListenEventsTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("listen-events", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: listen-events"), "\(help.text)")
        #expect(help.text.contains("--json"), "\(help.text)")
    }

    /// This test process listens on an IPv4 and an IPv6 socket with ports and backlogs it
    /// knows; the events must carry its pid, comm and network namespace.
    @Test func reportsOwnIPv4AndIPv6ListenersAsJSON() throws {
        let example = try ExampleProcess("listen-events", ["--json", "--pid", String(getpid())])
        try #require(example.waitFor("Ctrl-C to end"))
        let v4 = try TestListener(family: AF_INET, address: "127.0.0.1", backlog: 7)
        let v6 = try TestListener(family: AF_INET6, address: "::1", backlog: 11)
        example.waitFor("\"port\":\(v6.port)", timeout: .seconds(20))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        withExtendedLifetime((v4, v6)) {}

        let events = result.text.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let netns = try inode(of: "/proc/self/ns/net")
        for (listener, proto, address) in [(v4, "TCPv4", "127.0.0.1"), (v6, "TCPv6", "::1")] {
            let event = events.first { ($0["port"] as? Int) == Int(listener.port) }
            #expect(event?["pid"] as? Int == Int(getpid()), "\(result.text)")
            #expect(event?["comm"] as? String == listener.threadName, "\(result.text)")
            #expect(event?["netns"] as? Int == Int(netns), "\(result.text)")
            #expect(event?["proto"] as? String == proto, "\(result.text)")
            #expect(event?["backlog"] as? Int == listener.backlog, "\(result.text)")
            #expect(event?["addr"] as? String == address, "\(result.text)")
        }
        #expect(events.allSatisfy { ($0["pid"] as? Int) == Int(getpid()) }, "only this pid: \(result.text)")
    }

    /// A listener started inside a new network namespace (a small C program run with
    /// `ip netns exec`, which execs it, so the pid is the one the test started): the table row
    /// carries that namespace's inode, not the test's.
    @Test func reportsTheListenersNetworkNamespaceInTheTable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("exn-listen-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("listener.c")
        try """
            #include <arpa/inet.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <sys/socket.h>
            #include <unistd.h>
            /* listener PORT BACKLOG: listens on 0.0.0.0:PORT, says so, waits for stdin to close. */
            int main(int argc, char **argv) {
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
                if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) return 1;
                if (listen(fd, atoi(argv[2])) != 0) return 2;
                printf("listening\\n");
                fflush(stdout);
                char buffer[16];
                while (read(0, buffer, sizeof(buffer)) > 0) {}
                return 0;
            }
            """.write(to: source, atomically: true, encoding: .utf8)
        let binary = directory.appendingPathComponent("exn-listener").path
        let compile = try Command.runCapturing("/usr/bin/cc", ["-o", binary, source.path])
        try #require(compile.status == 0, "\(compile.output)")

        let namespace = "exn-t-listen"
        _ = try? Command.runCapturing("/usr/sbin/ip", ["netns", "del", namespace])
        try #require(try Command.runCapturing("/usr/sbin/ip", ["netns", "add", namespace]).status == 0)
        defer { _ = try? Command.runCapturing("/usr/sbin/ip", ["netns", "del", namespace]) }
        let namespaceInode = try inode(of: "/run/netns/\(namespace)")
        #expect(namespaceInode != (try inode(of: "/proc/self/ns/net")))

        let example = try ExampleProcess("listen-events")
        try #require(example.waitFor("Ctrl-C to end"))
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        listener.arguments = ["netns", "exec", namespace, binary, "4242", "5"]
        let input = Pipe(), output = Pipe()
        listener.standardInput = input
        listener.standardOutput = output
        try listener.run()
        let said = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        #expect(said.contains("listening"), "\(said)")
        let pid = listener.processIdentifier
        example.waitFor("\(pid) ", timeout: .seconds(20))
        try input.fileHandleForWriting.close()
        listener.waitUntilExit()
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")

        // `PID COMM NETNS PROTO BACKLOG ADDR PORT`, as BCC solisten --show-netns.
        let lines = result.text.split(separator: "\n")
        #expect(lines.contains { $0.split(separator: " ") == ["PID", "COMM", "NETNS", "PROTO", "BACKLOG", "ADDR", "PORT"] }, "\(result.text)")
        let row = lines.map { $0.split(separator: " ").map(String.init) }.first { $0.first == String(pid) }
        #expect(row == [String(pid), "exn-listener", String(namespaceInode), "TCPv4", "5", "0.0.0.0", "4242"], "\(result.text)")
    }

    @Test func kprobeVariantSaysKprobesAreUnavailable() throws {
        let result = try ExampleProcess.run("listen-events", ["--kprobe", "--duration", "1"])
        if FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe") {
            #expect(result.status == 0, "\(result.text)")
        } else {
            #expect(result.status != 0)
            #expect(result.text.contains("this kernel cannot attach kprobes"), "\(result.text)")
            #expect(result.text.contains("CONFIG_KPROBES"), "\(result.text)")
        }
    }
}

/// A TCP socket of this process listening on `address`, port chosen by the kernel at bind and
/// read back before listen(), so the test knows it in advance.
final class TestListener {
    let fd: Int32
    let port: UInt16
    let backlog: Int
    /// The comm of the thread that called listen(): what the kernel reports (a thread's, not
    /// the process's; Swift Testing runs tests on named dispatch threads).
    let threadName: String

    init(family: Int32, address: String, backlog: Int) throws {
        self.backlog = backlog
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ExampleError("socket: errno \(errno)") }
        var storage = sockaddr_storage()
        var length: socklen_t
        if family == AF_INET6 {
            var address6 = sockaddr_in6()
            address6.sin6_family = sa_family_t(AF_INET6)
            inet_pton(AF_INET6, address, &address6.sin6_addr)
            withUnsafeBytes(of: address6) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var address4 = sockaddr_in()
            address4.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, address, &address4.sin_addr)
            withUnsafeBytes(of: address4) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw ExampleError("bind \(address): errno \(errno)") }
        let named = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard named == 0 else { throw ExampleError("getsockname: errno \(errno)") }
        // sin_port and sin6_port sit at the same offset, in network order.
        guard listen(fd, Int32(backlog)) == 0 else { throw ExampleError("listen: errno \(errno)") }
        self.fd = fd
        threadName = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines) ?? ""
        port = withUnsafeBytes(of: storage) { UInt16($0[2]) << 8 | UInt16($0[3]) }
    }

    deinit { close(fd) }
}

/// The inode of a namespace file: what /proc/PID/ns/net shows as net:[INODE].
func inode(of path: String) throws -> UInt64 {
    var info = stat()
    guard stat(path, &info) == 0 else { throw ExampleError("stat \(path): errno \(errno)") }
    return UInt64(info.st_ino)
}
