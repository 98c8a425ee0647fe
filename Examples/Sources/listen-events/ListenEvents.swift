import ArgumentParser
import BPF
import ExampleSupport
import Foundation

/// The listen tracer: every time any process starts listening on a TCP socket, one pushed
/// event with the process, the socket's network namespace, family, backlog, address and port —
/// a feed a load balancer or container manager can consume instead of polling /proc/net/tcp.
@main
struct ListenEvents: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen-events",
        abstract: "Report every TCP listen(): pid, comm, netns inode, protocol, backlog, address, port.",
        discussion: """
            The original traces inet_listen with a kprobe. This kernel-independent version pairs the
            socket's change to TCP_LISTEN (tp_btf/inet_sock_set_state) with the end of listen()
            (syscalls:sys_exit_listen), and reads the backlog (sk_max_ack_backlog), the namespace
            (sk->__sk_common.skc_net.net->ns.inum), address and port from the socket with CO-RE.
            The backlog is the one listen() was given, capped by net.core.somaxconn. NETNS is the
            inode `ls -l /proc/PID/ns/net` shows as net:[INODE].

            EXAMPLES:
              listen-events                     # PID COMM NETNS PROTO BACKLOG ADDR PORT
              listen-events --json              # one JSON object per line
              listen-events --kprobe            # the original kprobe on inet_listen, where available
            """)

    @Option(help: "Only report this process id (default: every process).")
    var pid: UInt32 = 0

    @Flag(help: "Print one JSON object per event instead of the table.")
    var json = false

    @Flag(help: "Use the original kprobe on inet_listen (needs a kernel with CONFIG_KPROBES).")
    var kprobe = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        var opened = try ListenEventsSkeleton.open()
        opened.rodata.target_tgid = pid
        opened.autoload.on_set_state = !kprobe
        opened.autoload.on_listen_exit = !kprobe
        opened.autoload.kprobe_inet_listen = kprobe
        let loaded = try opened.load()
        let attached: ListenEventsSkeleton.Attached
        do {
            attached = try loaded.attach()
        } catch let error as BPFError where kprobe {
            if case .unsupported = error {
                throw ExampleError("""
                    --kprobe: this kernel cannot attach kprobes (\(error)).
                    Run without --kprobe: the tracepoint version reports the same fields.
                    """)
            }
            throw error
        }
        defer { try? attached.close() }

        let reader = try loaded.events { event in
            print(json ? ListenRecord(event).json : ListenRecord(event).row)
        }
        defer { reader.close() }
        let hooks = kprobe ? "kprobe/inet_listen" : "tp_btf/inet_sock_set_state + syscalls:sys_exit_listen"
        FileHandle.standardError.write(Data("Tracing TCP listen() (\(hooks))... Ctrl-C to end.\n".utf8))
        if !json { print(ListenRecord.header) }
        let deadline = Interrupt.deadline(afterSeconds: duration)
        while !Interrupt.isRequested(deadline: deadline) {
            _ = try reader.poll(timeout: .milliseconds(200))
        }
        _ = try reader.consumeAvailable()
    }
}

/// One event in the form it is printed.
struct ListenRecord {
    /// BCC solisten --show-netns's columns, widened for IPv6 addresses.
    static let header = columns("PID", "COMM", "NETNS", "PROTO", "BACKLOG", "ADDR", "PORT")

    var pid: UInt32
    var comm: String
    var netns: UInt32
    var proto: String
    var backlog: UInt32
    var address: String
    var port: UInt16

    init(_ event: ListenEventsSkeleton.listen_event) {
        pid = event.pid
        comm = event.commString
        netns = event.netns
        // include/linux/socket.h: AF_INET 2, AF_INET6 10.
        let family = Int32(event.family)
        proto = family == AF_INET6 ? "TCPv6" : family == AF_INET ? "TCPv4" : "TCP(family \(family))"
        backlog = event.backlog
        address = withUnsafeBytes(of: event.addr) { bytes in
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, bytes.baseAddress, &text, socklen_t(text.count)) != nil else { return "?" }
            return String(cString: text)
        }
        port = event.port
    }

    var row: String { Self.columns(String(pid), comm, String(netns), proto, String(backlog), address, String(port)) }

    var json: String {
        let object: [String: Any] = ["pid": pid, "comm": comm, "netns": netns, "proto": proto,
                                     "backlog": backlog, "addr": address, "port": port]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func columns(_ pid: String, _ comm: String, _ netns: String, _ proto: String, _ backlog: String,
                        _ address: String, _ port: String) -> String {
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        return pad(pid, 7) + " " + pad(comm, 16) + " " + pad(netns, 12) + " " + pad(proto, 6) + " " + pad(backlog, 8) + " "
            + pad(address, 39) + " " + port
    }
}
