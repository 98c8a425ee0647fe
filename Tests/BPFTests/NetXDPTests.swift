import BPF
import BPFObject
import Foundation
import Testing

@Suite(.kernel, .serialized)
struct NetXDPTests {
    /// An XDP program that counts IPv4 ICMP packets and returns `verdict` for them.
    static func icmpXDP(_ map: Map, verdict: Int32) throws -> Program {
        try Program(ProgramSpec(name: "sbpfnet_xdp", type: .xdp, expectedAttachType: .xdp,
                                instructions: icmpProgram(map: map, dataOffset: 0, dataEndOffset: 4,
                                                          icmpVerdict: verdict, otherVerdict: XDPVerdict.pass)))
    }

    @Test func genericLinkCountsPingsAndDetachesOnRelease() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let counts = try makeCounterMap("sbpfnet_xdpcnt")
        let program = try Self.icmpXDP(counts, verdict: XDPVerdict.pass)
        let programID = try program.info().id

        try topology.inside {
            let interface = try NetworkInterface(named: topology.insideInterface)
            var attachment: XDPAttachment? = try XDPAttachment.attach(program, to: interface, mode: .generic)
            #expect(attachment?.kernelLink != nil)

            #expect(try topology.ping(count: 3))
            #expect(try counterValue(counts) == 3)

            // The kernel reports it over netlink, and the listing matches bpftool's.
            let state = try XDP.state(of: interface)
            #expect(state.attached == .generic)
            #expect(state.programs == [XDPState.AttachedProgram(mode: .generic, id: programID)])
            let listing = try NetworkAttachments.list()
            #expect(listing.xdp.map(\.interface) == [interface])
            #expect(listing.bpftoolText().contains("\(interface.name)(\(interface.index)) generic id \(programID)\n"))
            try expectSameXDPAndTC(listing, try topology.bpftoolNetList())
            // The installed bpftool (7.1) stops after flow_dissector; up to there the text is identical.
            #expect(listing.bpftoolText().hasPrefix(try topology.bpftoolNetListText()))

            // Releasing the owner detaches.
            attachment = nil
            #expect(try XDP.state(of: interface).isAttached == false)
            #expect((try topology.bpftoolNetList()["xdp"] as? [Any])?.isEmpty == true)
            // Traffic flows and the detached program no longer counts it.
            #expect(try topology.ping(count: 1))
            #expect(try counterValue(counts) == 3)
        }
    }

    @Test func netlinkAttachedDropMakesPingsFail() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let counts = try makeCounterMap("sbpfnet_xdpdrop")
        let program = try Self.icmpXDP(counts, verdict: XDPVerdict.drop)
        let programID = try program.info().id

        try topology.inside {
            let interface = try NetworkInterface(named: topology.insideInterface)
            let attachment = try XDPAttachment.attach(program, to: interface, mode: .generic, method: .netlink(replaceExisting: false))
            #expect(attachment.kernelLink == nil)
            #expect(try XDP.state(of: interface).programs.map(\.id) == [programID])

            #expect(try topology.ping(count: 3) == false)
            #expect(try counterValue(counts) == 3)

            try attachment.close()
            #expect(throws: BPFError.self) { try attachment.close() }
            #expect(try XDP.state(of: interface).isAttached == false)
            #expect(try topology.ping(count: 1))
            #expect(try counterValue(counts) == 3)
        }
    }

    @Test func driverModeOnVeth() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let counts = try makeCounterMap("sbpfnet_xdpdrv")
        let program = try Self.icmpXDP(counts, verdict: XDPVerdict.pass)

        try topology.inside {
            let interface = try NetworkInterface(named: topology.insideInterface)
            let attachment = try XDPAttachment.attach(program, to: interface, mode: .driver)
            defer { try? attachment.close() }
            #expect(try XDP.state(of: interface).attached == .driver)
            #expect(try topology.ping(count: 3))
            #expect(try counterValue(counts) == 3)
            #expect(try NetworkAttachments.list().bpftoolText().contains(" driver id "))
        }
    }

    @Test func conflictsGiveSpecificErrors() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let counts = try makeCounterMap("sbpfnet_xdpbusy")
        let program = try Self.icmpXDP(counts, verdict: XDPVerdict.pass)
        let programID = try program.info().id

        try topology.inside {
            let interface = try NetworkInterface(named: topology.insideInterface)
            let first = try XDPAttachment.attach(program, to: interface, mode: .generic, method: .netlink(replaceExisting: false))
            defer { try? first.close() }

            // A link cannot take over a program attached by netlink: EBUSY, naming what is there.
            do {
                _ = try XDPAttachment.attach(program, to: interface, mode: .generic)
                Issue.record("a second XDP attachment in the same mode succeeded")
            } catch let error as BPFError {
                #expect(error.errno == .EBUSY)
                #expect(error.description.contains("program id \(programID) (generic)"))
            }
            // Netlink without replaceExisting: EBUSY with the kernel's own explanation.
            do {
                try XDP.attachUnowned(program, to: interface, mode: .generic)
                Issue.record("netlink attach over an attached program succeeded without replaceExisting")
            } catch let error as BPFError {
                #expect(error.errno == .EBUSY)
                #expect(error.description.contains("kernel: "))
            }
            // Native and generic cannot be active at once: EEXIST.
            do {
                _ = try XDPAttachment.attach(program, to: interface, mode: .driver, method: .netlink(replaceExisting: false))
                Issue.record("driver-mode attach succeeded while generic XDP was active")
            } catch let error as BPFError {
                #expect(error.errno == .EEXIST)
                #expect(error.description.contains("native and generic"))
            }
            // The failed attempts left the first attachment alone.
            #expect(try XDP.state(of: interface).programs.map(\.id) == [programID])
        }
    }

    @Test func unknownInterfaceIsNotFound() throws {
        do {
            _ = try NetworkInterface(named: "sbpfnonexist0")
            Issue.record("a missing interface was found")
        } catch BPFError.notFound(let what, let detail) {
            #expect(what == "interface")
            #expect(detail.contains("sbpfnonexist0"))
        }
        #expect(throws: BPFError.self) { _ = try NetworkInterface(named: "way-too-long-interface-name") }
        #expect(throws: BPFError.self) { _ = try NetworkInterface(named: "") }
        #expect(throws: BPFError.self) { _ = try NetworkInterface(index: 0x7fff_fff0) }
        #expect(try NetworkInterface(index: 1).name == "lo")
    }

    @Test func wrongProgramTypeIsRefusedBeforeTheKernel() throws {
        let program = try Program(ProgramSpec(name: "sbpfnet_sf", type: .socketFilter, instructions: [
            Instruction(opcode: 0xb7, dst: 0, immediate: 0), Instruction(opcode: 0x95),
        ]))
        let loopback = try NetworkInterface(named: "lo")
        do {
            _ = try XDPAttachment.attach(program, to: loopback, mode: .generic)
            Issue.record("a socket filter was attached as XDP")
        } catch BPFError.invalidArgument(let message) {
            #expect(message.contains("xdp"))
        }
    }
}

/// Compares our listing with bpftool's JSON for the same namespace: the `xdp` arrays exactly,
/// and the netlink (`clsact/...`) tc entries. The bpftool installed here (7.1) predates tcx and
/// netfilter listing, so those are checked against the kernel's answers elsewhere.
func expectSameXDPAndTC(_ listing: NetworkAttachmentListing, _ bpftool: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let ours = try JSONSerialization.jsonObject(with: Data(listing.bpftoolJSON().utf8)) as? [[String: Any]]
    let object = try #require(ours?.first)
    let ourXDP = (object["xdp"] as? [[String: Any]]) ?? []
    let theirXDP = (bpftool["xdp"] as? [[String: Any]]) ?? []
    #expect(NSArray(array: ourXDP).isEqual(to: theirXDP), "xdp: ours \(ourXDP) vs bpftool \(theirXDP)", sourceLocation: sourceLocation)
    let ourTC = ((object["tc"] as? [[String: Any]]) ?? []).filter { ($0["kind"] as? String)?.hasPrefix("tcx/") != true }
    let theirTC = ((bpftool["tc"] as? [[String: Any]]) ?? []).filter { ($0["kind"] as? String)?.hasPrefix("tcx/") != true }
    #expect(NSArray(array: ourTC).isEqual(to: theirTC), "tc: ours \(ourTC) vs bpftool \(theirTC)", sourceLocation: sourceLocation)
}
