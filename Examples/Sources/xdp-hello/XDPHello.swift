import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// Chapter 3's hello.bpf.c: an XDP program on an interface prints "Hello World N" for every
/// packet through bpf_printk and counts them in a global variable; the count is read from the
/// object's `.bss` map through the skeleton.
@main
struct XDPHello: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdp-hello",
        abstract: "XDP on an interface: print \"Hello World N\" per packet and the packet counter kept in .bss.",
        discussion: """
            Packets on the loopback interface have no process context, so trace_pipe shows them as
            the task that happened to run (often <idle>-0). The program returns XDP_PASS: traffic is
            unaffected. It is detached when the example exits.

            EXAMPLES:
              xdp-hello                         # lo; try `ping -c 3 localhost` in another shell
              xdp-hello --interface eth0 --duration 10
            """)

    @Option(help: "The interface to attach to.")
    var interface = "lo"

    @Flag(help: "Print the counter every second, not only at the end.")
    var everySecond = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        let device = try NetworkInterface(named: interface)
        let loaded = try XdpHelloSkeleton.open().load()
        // XDP needs an interface, which the section name cannot say: attach explicitly. The
        // attachment is a BPF link, so it also goes away if this process dies.
        let attachment = try XDPAttachment.attach(try loaded.programs.hello, to: device)
        defer { try? attachment.close() }
        print("Attached XDP program 'hello' to \(device.name).")

        let deadline = Interrupt.deadline(afterSeconds: duration)
        if everySecond {
            // The counter on its own thread: the trace_pipe loop below owns the main thread.
            let counterThread = Thread {
                while !Interrupt.isRequested(deadline: deadline) {
                    Thread.sleep(forTimeInterval: 1)
                    if let value = try? loaded.bss.counter { print("counter: \(value)") }
                }
            }
            counterThread.start()
        }
        try TracePipePrinter.run(until: deadline, ready: { print("Reading trace_pipe... Ctrl-C to end.") }) {
            $0.contains("Hello World ")
        }
        try attachment.close()
        print("counter: \(try loaded.bss.counter) packets seen on \(device.name)")
    }
}
