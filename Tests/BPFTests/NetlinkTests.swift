@testable import BPF
import Foundation
import Testing

/// The netlink codec is pure: these tests need no root and feed it hostile bytes.
struct NetlinkCodecTests {
    @Test func messageRoundTrip() throws {
        var attributes = NetlinkAttributeWriter()
        attributes.append(3, string: "veth0")
        attributes.appendNested(43) { xdp in
            xdp.append(1, int32: -1)
            xdp.append(3, uint32: 2)
        }
        attributes.append(7, uint8: 9)
        let bytes = NetlinkMessage.encode(type: 19, flags: [.request, .ack], sequence: 77, portID: 5, payload: [UInt8](repeating: 0, count: 16) + attributes.bytes)
        #expect(bytes.count % 4 == 0)
        let messages = try NetlinkMessage.parse(bytes)
        #expect(messages.count == 1)
        let message = try #require(messages.first)
        #expect(message.header.type == 19 && message.header.sequence == 77 && message.header.portID == 5)
        #expect(message.header.flags == [.request, .ack])
        let parsed = try NetlinkAttributes(payload: message.payload, afterHeaderOfSize: 16)
        #expect(parsed.string(3) == "veth0")
        #expect(parsed[43]?.isNested == true)
        let nested = try #require(try parsed.nested(43))
        #expect(nested.int32(1) == -1 && nested.uint32(3) == 2)
        #expect(parsed.uint8(7) == 9)
        // Wrong-size reads are nil, never out of bounds.
        #expect(parsed.uint32(7) == nil)
        #expect(parsed.uint16(99) == nil)
    }

    @Test func severalMessagesInOneDatagram() throws {
        let first = NetlinkMessage.encode(type: 16, flags: .multi, sequence: 1, payload: [1, 2, 3]) // padded to 20
        let done = NetlinkMessage.encode(type: NetlinkControl.done, flags: .multi, sequence: 1, payload: [0, 0, 0, 0])
        let padded = first + [UInt8](repeating: 0, count: netlinkAlign(first.count) - first.count)
        let messages = try NetlinkMessage.parse(padded + done)
        #expect(messages.map(\.header.type) == [16, NetlinkControl.done])
        #expect(messages[0].payload == [1, 2, 3])
    }

    @Test func malformedMessagesAreErrorsNotTraps() {
        // Length smaller than the header.
        var bytes = NetlinkMessage.encode(type: 16, flags: [], sequence: 1, payload: [])
        bytes[0] = 8
        #expect(throws: NetlinkParseError.self) { try NetlinkMessage.parse(bytes) }
        // Length beyond the datagram.
        bytes[0] = 200
        #expect(throws: NetlinkParseError.self) { try NetlinkMessage.parse(bytes) }
        // A dangling partial header.
        #expect(throws: NetlinkParseError.self) { try NetlinkMessage.parse(NetlinkMessage.encode(type: 3, flags: [], sequence: 1, payload: []) + [1, 2, 3]) }
        // Attribute shorter than its own header, and one running past the end.
        #expect(throws: NetlinkParseError.self) { try NetlinkAttributes([2, 0, 1, 0]) }
        #expect(throws: NetlinkParseError.self) { try NetlinkAttributes([40, 0, 1, 0, 0, 0, 0, 0]) }
        #expect(throws: NetlinkParseError.self) { try NetlinkAttributes(payload: [1, 2], afterHeaderOfSize: 16) }
        // A nested attribute whose inside is malformed.
        #expect(throws: NetlinkParseError.self) { try NetlinkAttributes([8, 0, 0x2b, 0x80, 9, 0, 1, 0]).nested(43) }
        // Short error messages.
        let shortError = NetlinkMessage(header: NetlinkHeader(length: 20, type: NetlinkControl.error, flags: [], sequence: 1, portID: 0), payload: [0xff, 0xff, 0xff, 0xff])
        #expect(throws: NetlinkParseError.self) { try NetlinkErrorReply(shortError) }
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<96, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? NetlinkMessage.parse(bytes)
            if let attributes = try? NetlinkAttributes(bytes) {
                for attribute in attributes.all {
                    _ = try? attributes.nested(attribute.type)
                    _ = attributes.string(attribute.type)
                    _ = attributes.uint32(attribute.type)
                }
            }
            let message = NetlinkMessage(header: NetlinkHeader(length: 0, type: 2, flags: [.ackTLVs], sequence: 0, portID: 0), payload: bytes)
            _ = try? NetlinkErrorReply(message)
            _ = try? RouteNetlink.decodeFilter(message)
        }
    }

    @Test func extendedAckTextIsDecoded() throws {
        // struct nlmsgerr { int error; struct nlmsghdr msg; } then NLMSGERR_ATTR_MSG, capped.
        var payload: [UInt8] = []
        payload.appendNetlinkValue(Int32(-16))
        payload += NetlinkMessage.encode(type: 19, flags: .request, sequence: 9, payload: [])
        var attributes = NetlinkAttributeWriter()
        attributes.append(1, string: "XDP program already attached")
        attributes.append(2, uint32: 36)
        payload += attributes.bytes
        let message = NetlinkMessage(header: NetlinkHeader(length: UInt32(16 + payload.count), type: NetlinkControl.error,
                                                           flags: [.capped, .ackTLVs], sequence: 9, portID: 1), payload: payload)
        let reply = try NetlinkErrorReply(message)
        #expect(reply.error == -16)
        #expect(reply.message == "XDP program already attached")
        #expect(reply.attributeOffset == 36)

        // Uncapped: the whole request is echoed before the attributes.
        var uncapped: [UInt8] = []
        uncapped.appendNetlinkValue(Int32(-17))
        uncapped += NetlinkMessage.encode(type: 44, flags: .request, sequence: 9, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        uncapped += attributes.bytes
        let second = try NetlinkErrorReply(NetlinkMessage(
            header: NetlinkHeader(length: 0, type: NetlinkControl.error, flags: [.ackTLVs], sequence: 9, portID: 1), payload: uncapped))
        #expect(second.error == -17 && second.message == "XDP program already attached")
    }

    @Test func filterMessageDecoding() throws {
        var header = TrafficControlHeader(interfaceIndex: 4, handle: 1, parent: TCHandle.clsactIngress, info: 3 << 16 | 0x0300)
        header.family = 0
        var attributes = NetlinkAttributeWriter()
        attributes.append(1, string: "bpf")
        attributes.appendNested(2) { options in
            options.append(7, string: "prog:[12]")
            options.append(8, uint32: 1)
            options.append(11, uint32: 12)
        }
        let message = NetlinkMessage(header: NetlinkHeader(length: 0, type: 44, flags: [], sequence: 0, portID: 0),
                                     payload: header.encoded + attributes.bytes)
        let filter = try #require(try RouteNetlink.decodeFilter(message))
        #expect(filter.interfaceIndex == 4 && filter.handle == 1 && filter.priority == 3 && filter.protocol == 3)
        #expect(filter.bpf == BPFClassifierOptions(name: "prog:[12]", programID: 12, isDirectAction: true, tag: nil, actions: nil))
    }
}

struct CgroupMountInfoTests {
    @Test func findsCgroup2MountPoints() {
        let text = """
            22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
            35 22 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
            36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
            37 35 0:32 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
            99 22 0:33 / /mnt/with\\040space rw shared:12 - cgroup2 none rw
            garbage line
            1 2 3 - cgroup2
            """
        #expect(Cgroup.cgroup2MountPoints(inMountInfo: text) == ["/sys/fs/cgroup/unified", "/mnt/with space"])
        #expect(Cgroup.cgroup2MountPoints(inMountInfo: "") == [])
        #expect(MountInfo.unescape("a\\134b\\0") == "a\\b\\0")
    }
}

struct NetListRenderingTests {
    static let loopback = NetworkInterface(name: "lo", index: 1)
    static let veth = NetworkInterface(name: "veth0", index: 4)

    static var listing: NetworkAttachmentListing {
        var listing = NetworkAttachmentListing()
        listing.xdp = [.init(interface: loopback, isMulti: false, programs: [.init(mode: .generic, id: 42)])]
        listing.tc = [
            .chain(.init(interface: veth, kind: "tcx/ingress", programName: "tc_prog", programID: 29, programFlags: 0, linkID: 5, linkFlags: 0)),
            .filter(.init(interface: veth, kind: "clsact/egress", name: "cls:[30]", programID: 30, isDirectAction: true, actions: nil)),
        ]
        listing.netfilter = [.init(protocolFamily: 2, hook: 0, priority: -128, flags: 0, programID: 7)]
        return listing
    }

    @Test func textMatchesBpftoolLayout() {
        #expect(Self.listing.bpftoolText() == """
            xdp:
            lo(1) generic id 42

            tc:
            veth0(4) tcx/ingress tc_prog prog_id 29 link_id 5 
            veth0(4) clsact/egress cls:[30] id 30

            flow_dissector:

            netfilter:

            \tip prerouting prio -128 prog_id 7

            """)
        #expect(NetworkAttachmentListing().bpftoolText() == "xdp:\n\ntc:\n\nflow_dissector:\n\nnetfilter:\n\n")
    }

    @Test func jsonMatchesBpftoolLayout() {
        #expect(NetworkAttachmentListing().bpftoolJSON() == #"[{"xdp":[],"tc":[],"flow_dissector":[],"netfilter":[]}]"# + "\n")
        #expect(Self.listing.bpftoolJSON() == #"[{"xdp":[{"devname":"lo","ifindex":1,"mode":"generic","id":42}],"tc":[{"devname":"veth0","ifindex":4,"kind":"tcx/ingress","name":"tc_prog","prog_id":29,"prog_flags":[],"link_id":5,"link_flags":[]},{"devname":"veth0","ifindex":4,"kind":"clsact/egress","name":"cls:[30]","id":30}],"flow_dissector":[],"netfilter":[{"pf":2,"hook":0,"prio":-128,"flags":0,"id":7}]}]"# + "\n")
    }

    @Test func prettyJSONIndentsLikeBpftool() {
        var listing = NetworkAttachmentListing()
        listing.xdp = [.init(interface: Self.loopback, isMulti: false, programs: [.init(mode: .generic, id: 42)])]
        #expect(listing.bpftoolJSON(pretty: true) == """
            [{
                    "xdp": [{
                            "devname": "lo",
                            "ifindex": 1,
                            "mode": "generic",
                            "id": 42
                        }
                    ],
                    "tc": [],
                    "flow_dissector": [],
                    "netfilter": []
                }
            ]

            """)
    }

    @Test func jsonStringsAreEscaped() {
        #expect(BPFToolJSONWriter.quoted("a\"b\\c\n\u{01}") == #""a\"b\\c\n\u0001""#)
    }
}
