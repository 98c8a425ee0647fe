import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// Chapter 8's ping(): XDP parses Ethernet, IPv4 and ICMP with bounds checks and prints
/// "Hello ping" for every ICMP packet (saying whether it is an echo request or reply);
/// `--drop` answers XDP_DROP for them, so a ping through the interface gets no replies.
@main
struct XDPPing: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdp-ping",
        abstract: "XDP: print \"Hello ping\" for each ICMP packet arriving on an interface; --drop drops them.",
        discussion: """
            XDP sees packets on arrival only. On lo a `ping localhost` shows both the request and the
            reply (both arrive on lo); with --drop the request is dropped and ping gets no reply.

            --netns-demo builds its own network: a veth pair with one end in a new network namespace
            (\(demoNamespace), 10.201.0.1 <-> 10.201.0.2), attaches to the host end, pings the other end
            and removes it all again. The replies arrive on the host end: with --drop, none reaches ping.

            EXAMPLES:
              xdp-ping                          # lo; run `ping localhost` in another shell
              xdp-ping --drop --interface veth0
              xdp-ping --netns-demo --drop
            """)

    static let demoNamespace = "exn-xdpping"

    @Option(help: "The interface to attach to (ignored with --netns-demo).")
    var interface = "lo"

    @Flag(help: "Drop ICMP packets (XDP_DROP) instead of passing them.")
    var drop = false

    @Flag(help: "Create a veth pair into a new network namespace, attach to it and ping across it.")
    var netnsDemo = false

    @Option(help: "Pings sent by --netns-demo.")
    var count = 3

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        var network: VethNamespace?
        if netnsDemo {
            network = try VethNamespace(name: Self.demoNamespace, subnet: 201)
        }
        defer { network?.remove() }
        let device = try NetworkInterface(named: network?.hostInterface ?? interface)

        var opened = try XdpPingSkeleton.open()
        opened.rodata.drop_icmp = drop
        let loaded = try opened.load()
        let attachment = try XDPAttachment.attach(try loaded.programs.ping, to: device)
        defer { try? attachment.close() }
        print("Attached XDP program 'ping' to \(device.name)\(drop ? ", dropping ICMP" : "").")

        let deadline = Interrupt.deadline(afterSeconds: duration)
        guard let network else {
            try TracePipePrinter.run(until: deadline, ready: { print("Reading trace_pipe... Ctrl-C to end.") }) {
                $0.contains("Hello ping")
            }
            return
        }
        print("Reading trace_pipe; pinging \(network.peerAddress) in network namespace \(network.namespace)...")
        try TracePipePrinter.runWhilePinging(network.peerAddress, count: count, until: deadline) { $0.contains("Hello ping") }
    }
}
