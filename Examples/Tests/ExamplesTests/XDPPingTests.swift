import ExampleSupport
import Foundation
import Testing

@Suite(.kernel, .serialized) struct XDPPingTests {
    @Test func helpDescribesTheExample() throws {
        let help = try ExampleProcess.run("xdp-ping", ["--help"])
        #expect(help.status == 0)
        #expect(help.text.contains("USAGE: xdp-ping"), "\(help.text)")
        #expect(help.text.contains("--drop"), "\(help.text)")
        #expect(help.text.contains("--netns-demo"), "\(help.text)")
    }

    /// Without --drop the pings across the veth pair are answered and each reply arriving on
    /// the host end prints "Hello ping: echo reply".
    @Test func passesAndPrintsHelloPing() throws {
        let network = try VethNamespace(name: "exn-t-xping", subnet: 212)
        let example = try ExampleProcess("xdp-ping", ["--interface", network.hostInterface])
        try #require(example.waitFor("Ctrl-C to end", timeout: .seconds(180)))
        let ping = try network.ping(network.peerAddress, count: 3)
        #expect(ping.received == 3, "\(ping.text)")
        example.waitFor("seq 3", timeout: .seconds(120))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        let lines = result.text.split(separator: "\n").filter { $0.contains("bpf_trace_printk: Hello ping") }
        for sequence in 1...3 {
            #expect(lines.contains { $0.contains("Hello ping: echo reply id ") && $0.hasSuffix(" seq \(sequence)") }, "\(result.text)")
        }
        #expect(try network.attachedPrograms().isEmpty)
    }

    /// With --drop, XDP drops the replies as they arrive: ping gets none.
    @Test func dropMakesPingGetNoReplies() throws {
        let network = try VethNamespace(name: "exn-t-xping", subnet: 212)
        let example = try ExampleProcess("xdp-ping", ["--interface", network.hostInterface, "--drop"])
        try #require(example.waitFor("Ctrl-C to end", timeout: .seconds(180)))
        let ping = try network.ping(network.peerAddress, count: 3)
        #expect(ping.received == 0, "\(ping.text)")
        example.waitFor("seq 3", timeout: .seconds(120))
        let result = example.interrupt()
        #expect(result.status == 0, "\(result.text)")
        #expect(result.text.contains("Hello ping: echo reply"), "\(result.text)")
        #expect(try network.attachedPrograms().isEmpty)
        // Detached: the same ping is answered again.
        #expect(try network.ping(network.peerAddress, count: 1).received == 1)
    }

    /// --netns-demo makes its own namespace and veth pair, pings across it, and removes them.
    @Test func netnsDemoPingsAcrossItsOwnVethPair() throws {
        let dropped = try ExampleProcess.run("xdp-ping", ["--netns-demo", "--drop"], timeout: .seconds(180))
        #expect(dropped.status == 0, "\(dropped.text)")
        #expect(dropped.text.contains("3 packets transmitted, 0 received"), "\(dropped.text)")
        let passed = try ExampleProcess.run("xdp-ping", ["--netns-demo"], timeout: .seconds(180))
        #expect(passed.status == 0, "\(passed.text)")
        #expect(passed.text.contains("3 packets transmitted, 3 received"), "\(passed.text)")
        #expect(passed.text.contains("Hello ping: echo reply"), "\(passed.text)")
        let namespaces = try Command.runCapturing("/usr/sbin/ip", ["netns", "list"])
        #expect(!namespaces.output.contains("exn-xdpping"), "\(namespaces.output)")
    }
}
