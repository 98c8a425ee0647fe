import ExampleSupport
import Foundation
import Testing

/// The program sits on the ingress of the veth end inside the test's namespace (the example
/// enters it with --netns); the pings go there from the host.
@Suite(.kernel, .serialized) struct TCPingTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("tc-ping", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: tc-ping"), "\(help.text)")
        #expect(help.text.contains("--pingpong"), "\(help.text)")
        #expect(help.text.contains("--netns"), "\(help.text)")
    }

    /// The echo requests are dropped on ingress with "[tc] ICMP request for <daddr> type 8".
    @Test func dropsEchoRequests() throws {
        let network = try VethNamespace(name: "exn-t-tcping", subnet: 213)
        #expect(try network.ping(network.peerAddress, count: 1).received == 1, "the namespace answers before the example runs")
        let example = try ExampleProcess("tc-ping", ["--netns", network.namespace, "--interface", network.peerInterface])
        try #require(example.waitFor("Ctrl-C to end", timeout: .seconds(180)))
        #expect(try programIsLoaded(named: "tc_drop_ping"))
        let ping = try network.ping(network.peerAddress, count: 3)
        #expect(ping.received == 0, "\(ping.text)")
        example.waitFor("[tc] ICMP request for", count: 3, timeout: .seconds(120))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        // 10.213.0.2 as the network-order word printed in hex: 0x0200d50a.
        let lines = result.text.split(separator: "\n").filter { $0.contains("bpf_trace_printk: [tc] ICMP request for 200d50a type 8") }
        #expect(lines.count >= 3, "\(result.text)")
        #expect(try !programIsLoaded(named: "tc_drop_ping"))
        #expect(try network.attachedPrograms(inNamespace: true).isEmpty)
        #expect(try network.ping(network.peerAddress, count: 1).received == 1, "answered again once detached")
    }

    /// The namespace's kernel is told to ignore pings, so without the example ping gets
    /// nothing; with --pingpong every reply is TC's.
    @Test func pingpongAnswersFromTC() throws {
        let network = try VethNamespace(name: "exn-t-tcping", subnet: 213)
        let sysctl = try Command.runCapturing("/usr/sbin/ip", ["netns", "exec", network.namespace, "sysctl", "-w", "net.ipv4.icmp_echo_ignore_all=1"])
        try #require(sysctl.status == 0, "\(sysctl.output)")
        #expect(try network.ping(network.peerAddress, count: 1).received == 0, "the namespace's kernel no longer answers")
        let example = try ExampleProcess("tc-ping", ["--netns", network.namespace, "--interface", network.peerInterface, "--pingpong"])
        try #require(example.waitFor("Ctrl-C to end", timeout: .seconds(180)))
        let ping = try network.ping(network.peerAddress, count: 3)
        #expect(ping.received == 3, "\(ping.text)")
        example.waitFor("[tc] ICMP reply sent back", count: 3, timeout: .seconds(120))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        #expect(result.text.contains("[tc] ICMP request for 200d50a type 8"), "\(result.text)")
        #expect(result.text.contains("[tc] ICMP reply sent back out of ifindex"), "\(result.text)")
        #expect(try !programIsLoaded(named: "tc_pingpong"))
        #expect(try network.attachedPrograms(inNamespace: true).isEmpty)
        #expect(try network.ping(network.peerAddress, count: 1).received == 0, "no answers once detached")
    }

    @Test func netnsDemoPingpong() throws {
        let result = try ExampleProcess.run("tc-ping", ["--netns-demo", "--pingpong"], timeout: .seconds(180))
        #expect(result.status == 0, "\(result.text)")
        #expect(result.text.contains("3 packets transmitted, 3 received"), "\(result.text)")
        #expect(result.text.contains("[tc] ICMP reply sent back"), "\(result.text)")
        let namespaces = try Command.runCapturing("/usr/sbin/ip", ["netns", "list"])
        #expect(!namespaces.output.contains("exn-tcping"), "\(namespaces.output)")
    }

    @Test func unknownNamespaceIsAClearError() throws {
        let result = try ExampleProcess.run("tc-ping", ["--netns", "exn-no-such-ns", "--interface", "eth0"])
        #expect(result.status != 0)
        #expect(result.text.contains("no such network namespace"), "\(result.text)")
    }
}
