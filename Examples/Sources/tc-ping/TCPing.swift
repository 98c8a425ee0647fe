import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// Chapter 8's TC programs on ingress: by default drop ICMP echo requests, printing
/// "[tc] ICMP request for <daddr hex> type <type>"; with `--pingpong`, answer them from TC
/// (the kernel's ICMP never sees the request).
@main
struct TCPing: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tc-ping",
        abstract: "TC ingress: drop ICMP echo requests, or answer them from TC with --pingpong.",
        discussion: """
            The program is attached to the interface's ingress with tcx where the kernel has it
            (6.6+), otherwise as a direct-action cls_bpf filter under a clsact qdisc; either way it
            is detached when the example exits.

            --netns-demo builds its own network: a veth pair with one end in a new network namespace
            (\(demoNamespace), 10.202.0.1 <-> 10.202.0.2), attaches to the end inside the namespace and
            pings it from here, then removes it all again. With --pingpong the namespace's kernel is
            told to ignore pings (net.ipv4.icmp_echo_ignore_all=1), so every reply comes from TC.

            EXAMPLES:
              tc-ping                           # lo; `ping localhost` gets no replies
              tc-ping --pingpong                # lo; the replies come from TC
              tc-ping --netns-demo --pingpong
              tc-ping --netns blue --interface veth1 --pingpong
            """)

    static let demoNamespace = "exn-tcping"

    @Option(help: "The interface whose ingress to attach to (ignored with --netns-demo).")
    var interface = "lo"

    @Option(help: ArgumentHelp("Attach inside this network namespace (as made by `ip netns add`).", valueName: "name"))
    var netns: String?

    @Flag(help: "Answer echo requests from TC (swap addresses, type 0, clone-redirect back) instead of dropping them.")
    var pingpong = false

    @Flag(help: "Create a veth pair into a new network namespace, attach to the end in there and ping it.")
    var netnsDemo = false

    @Option(help: "Pings sent by --netns-demo.")
    var count = 3

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        var network: VethNamespace?
        if netnsDemo {
            network = try VethNamespace(name: Self.demoNamespace, subnet: 202)
            if pingpong {
                try Command.run("/usr/sbin/ip", ["netns", "exec", Self.demoNamespace, "sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1"])
            }
        }
        defer { network?.remove() }

        var opened = try TcPingSkeleton.open()
        // Load only the program that runs: both would be valid, one is needed.
        opened.autoload.tc_drop_ping = !pingpong
        opened.autoload.tc_pingpong = pingpong
        let loaded = try opened.load()
        let program = pingpong ? try loaded.programs.tc_pingpong : try loaded.programs.tc_drop_ping
        let attach = { () throws -> (NetworkInterface, TCAttachment) in
            let device = try NetworkInterface(named: network?.peerInterface ?? interface)
            return (device, try TCAttachment.attach(program, to: device, direction: .ingress))
        }
        // The attachment keeps its interface when this thread leaves the namespace again.
        let namespace = network?.namespace ?? netns
        let (device, attachment) = try namespace.map { try NetworkNamespaceSwitch.run(inNamespaceNamed: $0, attach) } ?? attach()
        defer { try? attachment.close() }
        let place = namespace.map { " in network namespace \($0)" } ?? ""
        print("Attached TC program '\(program.name)' to \(device.name) ingress\(place) (\(attachment.kernelLink != nil ? "tcx" : "clsact filter")).")

        let deadline = Interrupt.deadline(afterSeconds: duration)
        let isOurs: (String) -> Bool = { $0.contains("[tc] ") }
        guard let network else {
            try TracePipePrinter.run(until: deadline, ready: { print("Reading trace_pipe... Ctrl-C to end.") }, filter: isOurs)
            return
        }
        print("Reading trace_pipe; pinging \(network.peerAddress) in network namespace \(network.namespace)...")
        try TracePipePrinter.runWhilePinging(network.peerAddress, count: count, until: deadline, filter: isOurs)
    }
}
