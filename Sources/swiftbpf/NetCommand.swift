import ArgumentParser
import BPF
import BPFObject

/// `swiftbpf net`: networking attachments, with bpftool's grammar and output.
struct NetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net",
        abstract: "Inspect and manage XDP and tc (tcx, clsact) attachments, like `bpftool net`.",
        discussion: """
            For programs attached to cgroups, use the cgroup tools; socket filters are not listed
            (the kernel has no way to enumerate them).
            """,
        subcommands: [List.self, Attach.self, Detach.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List XDP, tc (tcx and cls_bpf), flow dissector and netfilter attachments.",
            discussion: """
                Output follows `bpftool net list`: sections xdp:, tc:, flow_dissector:, netfilter:,
                one line per attachment such as `lo(1) generic id 42`.
                EXAMPLES:
                  swiftbpf net list
                  swiftbpf net list dev eth0
                  swiftbpf net list --json --pretty
                """,
            aliases: ["show"]
        )

        @Flag(name: [.customShort("j"), .long], help: "JSON output (bpftool's layout).")
        var json = false

        @Flag(name: [.customShort("p"), .long], help: "Human-readable JSON (implies --json).")
        var pretty = false

        @Argument(help: "Optional `dev NAME` to list one interface.")
        var words: [String] = []

        func run() throws {
            var interface: NetworkInterface?
            if !words.isEmpty {
                guard words.count == 2, words[0] == "dev" else {
                    throw ValidationError("expected `dev NAME`, got '\(words.joined(separator: " "))'")
                }
                interface = try NetworkInterface(named: words[1])
            }
            let listing = try NetworkAttachments.list(interface: interface)
            if json || pretty {
                print(listing.bpftoolJSON(pretty: pretty), terminator: "")
            } else {
                print(listing.bpftoolText(), terminator: "")
            }
        }
    }

    struct Attach: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attach",
            abstract: "Attach a program to an interface: ATTACH_TYPE PROG dev NAME [overwrite].",
            discussion: """
                ATTACH_TYPE := { xdp | xdpgeneric | xdpdrv | xdpoffload | tcx_ingress | tcx_egress }
                PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }

                The attachment outlives this command, as with bpftool: XDP uses the netlink
                attach (IFLA_XDP), which the kernel keeps until it is detached; tcx uses
                BPF_PROG_ATTACH without a link, which the kernel also keeps, so nothing needs
                to be pinned. Without `overwrite`, an XDP program already attached makes the
                command fail. Undo with `swiftbpf net detach`.
                EXAMPLES:
                  swiftbpf net attach xdpgeneric id 42 dev veth0
                  swiftbpf net attach tcx_ingress pinned /sys/fs/bpf/my_tc dev eth0
                """
        )

        @Flag(name: [.customShort("j"), .long], help: "JSON output (prints null on success, like bpftool).")
        var json = false

        @Argument(help: "ATTACH_TYPE PROG dev NAME [overwrite]")
        var words: [String] = []

        func run() throws {
            guard let typeWord = words.first else { throw ValidationError("expected ATTACH_TYPE PROG dev NAME") }
            let attachType = try NetAttachType(word: typeWord)
            var rest = Array(words.dropFirst())
            let program = try parseProgram(&rest)
            let interface = try parseDevice(&rest)
            var overwrite = false
            if let extra = rest.first {
                guard extra == "overwrite", rest.count == 1 else {
                    throw ValidationError("expected 'overwrite', got: '\(rest.joined(separator: " "))'")
                }
                overwrite = true
            }
            switch attachType {
            case .xdp(let mode):
                try XDP.attachUnowned(program, to: interface, mode: mode, replaceExisting: overwrite)
            case .tcx(let direction):
                try TCX.attachUnowned(program, to: interface, direction: direction)
            }
            if json { print("null") }
        }
    }

    struct Detach: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "detach",
            abstract: "Detach the program of ATTACH_TYPE from an interface: ATTACH_TYPE dev NAME.",
            discussion: """
                For XDP, the same ATTACH_TYPE as at attach time must be given. For tcx, the last
                program of the chain is detached (as bpftool does); a program held by a BPF link
                is refused with EBUSY and detaches when its link is closed or unpinned.
                """
        )

        @Flag(name: [.customShort("j"), .long], help: "JSON output (prints null on success, like bpftool).")
        var json = false

        @Argument(help: "ATTACH_TYPE dev NAME")
        var words: [String] = []

        func run() throws {
            guard let typeWord = words.first else { throw ValidationError("expected ATTACH_TYPE dev NAME") }
            let attachType = try NetAttachType(word: typeWord)
            var rest = Array(words.dropFirst())
            let interface = try parseDevice(&rest)
            guard rest.isEmpty else { throw ValidationError("unexpected '\(rest.joined(separator: " "))'") }
            switch attachType {
            case .xdp(let mode): try XDP.detach(from: interface, mode: mode)
            case .tcx(let direction): try TCX.detachUnowned(from: interface, direction: direction)
            }
            if json { print("null") }
        }
    }
}

/// bpftool's net ATTACH_TYPE words.
enum NetAttachType {
    case xdp(XDPMode)
    case tcx(TCDirection)

    init(word: String) throws {
        if let mode = XDPMode(bpftoolAttachType: word) {
            self = .xdp(mode)
        } else if word == "tcx_ingress" {
            self = .tcx(.ingress)
        } else if word == "tcx_egress" {
            self = .tcx(.egress)
        } else {
            throw ValidationError("invalid net attach/detach type: \(word) (expected xdp, xdpgeneric, xdpdrv, xdpoffload, tcx_ingress or tcx_egress)")
        }
    }
}

/// `dev NAME`, consumed from the front of `words`.
func parseDevice(_ words: inout [String]) throws -> NetworkInterface {
    guard words.count >= 2, words[0] == "dev" else {
        throw ValidationError("expected 'dev NAME', got: '\(words.joined(separator: " "))'")
    }
    let interface = try NetworkInterface(named: words[1])
    words.removeFirst(2)
    return interface
}

/// bpftool's PROG (`id N`, `pinned PATH`, `tag HEX`, `name NAME`) at the start of `words`,
/// which are left with what follows it.
func parseProgram(_ words: inout [String]) throws -> Program {
    let (selector, rest) = try ObjectSelector.parse(words[...], allowsTag: true)
    words = Array(rest)
    return try Program(adopting: KernelObjects.program(matching: selector).fd)
}
