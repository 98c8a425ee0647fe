import BPF
import BPFObject
import Foundation
import Testing

@Suite(.kernel, .serialized)
struct NetTCTests {
    /// A sched_cls program that counts IPv4 ICMP packets and returns `verdict` for them.
    static func icmpTC(_ map: Map, verdict: Int32, name: String) throws -> Program {
        try Program(ProgramSpec(name: name, type: .schedCls,
                                instructions: icmpProgram(map: map, dataOffset: 76, dataEndOffset: 80,
                                                          icmpVerdict: verdict, otherVerdict: TCVerdict.pass)))
    }

    @Test func tcxIsProbedNotGuessed() {
        // Linux 6.6+ has tcx; this machine runs 6.18.
        #expect(TCX.isSupported)
    }

    @Test func tcxIngressCountsAndEgressDrops() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let ingressCounts = try makeCounterMap("sbpfnet_tcxin")
        let egressCounts = try makeCounterMap("sbpfnet_tcxout")
        let counting = try Self.icmpTC(ingressCounts, verdict: TCVerdict.pass, name: "sbpfnet_tcxcnt")
        let dropping = try Self.icmpTC(egressCounts, verdict: TCVerdict.drop, name: "sbpfnet_tcxdrop")
        let countingID = try counting.info().id

        try topology.inside {
            let interface = try NetworkInterface(named: topology.insideInterface)
            let ingress = try TCAttachment.attach(counting, to: interface, direction: .ingress, method: .tcx)
            #expect(ingress.kernelLink != nil)

            #expect(try topology.ping(count: 3))
            #expect(try counterValue(ingressCounts) == 3)

            // BPF_PROG_QUERY shows the program and the link holding it.
            let chain = try TCX.chain(of: interface, direction: .ingress)
            #expect(chain.entries.map(\.programID) == [countingID])
            #expect(chain.entries.first?.linkID ?? 0 != 0)
            let listing = try NetworkAttachments.list()
            guard case .chain(let entry)? = listing.tc.first else {
                Issue.record("no tcx entry in \(listing.tc)")
                return
            }
            #expect(entry.kind == "tcx/ingress" && entry.programID == countingID && entry.programName == "sbpfnet_tcxcnt")
            #expect(listing.bpftoolText().contains("\(interface) tcx/ingress sbpfnet_tcxcnt prog_id \(countingID) link_id \(entry.linkID) \n"))

            // A program held by a link cannot be removed with BPF_PROG_DETACH.
            do {
                try TCX.detachUnowned(from: interface, direction: .ingress)
                Issue.record("BPF_PROG_DETACH removed a program held by a tcx link")
            } catch let error as BPFError {
                #expect(error.errno == .EBUSY)
                #expect(error.description.contains("held by a BPF link"))
            }
            #expect(try TCX.chain(of: interface, direction: .ingress).entries.map(\.programID) == [countingID])

            // Echo replies leave through egress: dropping them makes the pings fail.
            let egress = try TCAttachment.attach(dropping, to: interface, direction: .egress, method: .tcx)
            #expect(try topology.ping(count: 3) == false)
            #expect(try counterValue(egressCounts) == 3)
            #expect(try counterValue(ingressCounts) == 6)

            try egress.close()
            #expect(try TCX.chain(of: interface, direction: .egress).entries.isEmpty)
            #expect(try topology.ping(count: 1))
            #expect(try counterValue(egressCounts) == 3)

            try ingress.close()
            #expect(try TCX.chain(of: interface, direction: .ingress).entries.isEmpty)
            #expect(try NetworkAttachments.list().tc.isEmpty)
        }
    }

    @Test func netlinkClsactFiltersCountDropAndCleanUp() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let ingressCounts = try makeCounterMap("sbpfnet_clsin")
        let egressCounts = try makeCounterMap("sbpfnet_clsout")
        let counting = try Self.icmpTC(ingressCounts, verdict: TCVerdict.pass, name: "sbpfnet_clscnt")
        let dropping = try Self.icmpTC(egressCounts, verdict: TCVerdict.drop, name: "sbpfnet_clsdrop")
        let countingID = try counting.info().id

        try topology.inside {
            let interface = try NetworkInterface(named: topology.insideInterface)
            var ingress: TCAttachment? = try TCAttachment.attach(counting, to: interface, direction: .ingress, method: .netlink(handle: 7, priority: 3))
            #expect(ingress?.createdQdisc == true)
            #expect(ingress?.method == .netlink(handle: 7, priority: 3))

            #expect(try topology.ping(count: 3))
            #expect(try counterValue(ingressCounts) == 3)

            // The filter dump reports what we created: direct-action, our name and program id.
            let filters = try TC.filters(on: interface, direction: .ingress)
            #expect(filters.count == 1)
            let filter = try #require(filters.first)
            #expect(filter.kind == "bpf" && filter.handle == 7 && filter.priority == 3 && filter.protocol == 3)
            #expect(filter.bpf?.isDirectAction == true)
            #expect(filter.bpf?.programID == countingID)
            #expect(filter.bpf?.name == "sbpfnet_clscnt:[\(countingID)]")

            // Kernel-chosen handle and priority come back through NLM_F_ECHO.
            let egress = try TCAttachment.attach(dropping, to: interface, direction: .egress, method: .netlink())
            #expect(egress.createdQdisc == false)
            guard case .netlink(let handle, let priority) = egress.method else {
                Issue.record("unexpected method \(egress.method)")
                return
            }
            #expect(handle != 0 && priority != 0)
            #expect(try topology.ping(count: 3) == false)
            #expect(try counterValue(egressCounts) == 3)

            // Same picture as bpftool's.
            let listing = try NetworkAttachments.list()
            #expect(listing.tc.count == 2)
            #expect(listing.bpftoolText().contains("\(interface) clsact/ingress sbpfnet_clscnt:[\(countingID)] id \(countingID)\n"))
            try expectSameXDPAndTC(listing, try topology.bpftoolNetList())
            #expect(listing.bpftoolText().hasPrefix(try topology.bpftoolNetListText()))

            try egress.close()
            #expect(try TC.filters(on: interface, direction: .egress).isEmpty)
            #expect(try topology.ping(count: 1))

            // Releasing the last owner removes the filter and the clsact qdisc it created.
            ingress = nil
            #expect(try TC.filters(on: interface, direction: .ingress).isEmpty)
            let qdiscs = try NetTestShell.checked(["tc", "-n", topology.insideNamespace, "qdisc", "show", "dev", interface.name])
            #expect(!qdiscs.contains("clsact"), "clsact left behind: \(qdiscs)")
            #expect(((try topology.bpftoolNetList()["tc"] as? [Any]) ?? [0]).isEmpty)
        }
    }

    @Test func existingClsactIsKeptAndDuplicateFilterIsRefused() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        try NetTestShell.checked(["tc", "-n", topology.insideNamespace, "qdisc", "add", "dev", topology.insideInterface, "clsact"])
        let counts = try makeCounterMap("sbpfnet_clsdup")
        let program = try Self.icmpTC(counts, verdict: TCVerdict.pass, name: "sbpfnet_clsdup")

        try topology.inside {
            let interface = try NetworkInterface(named: topology.insideInterface)
            let first = try TCAttachment.attach(program, to: interface, direction: .ingress, method: .netlink(handle: 1, priority: 1))
            #expect(first.createdQdisc == false)
            do {
                _ = try TCAttachment.attach(program, to: interface, direction: .ingress, method: .netlink(handle: 1, priority: 1))
                Issue.record("a second filter with the same handle and priority was added")
            } catch let error as BPFError {
                #expect(error.errno == .EEXIST)
                #expect(error.description.contains("handle 1 and priority 1"))
            }
            try first.close()
            // The qdisc was there before us, so it stays.
            let qdiscs = try NetTestShell.checked(["tc", "-n", topology.insideNamespace, "qdisc", "show", "dev", interface.name])
            #expect(qdiscs.contains("clsact"))
        }
    }

    @Test func tcxPlacementOrdersTheChain() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let counts = try makeCounterMap("sbpfnet_tcxord")
        // TCX_NEXT (-1): let the next program run too.
        let programs = try (0..<4).map { try Self.icmpTC(counts, verdict: -1, name: "sbpfnet_ord\($0)") }
        let ids = try programs.map { try $0.info().id }

        try topology.inside {
            let interface = try NetworkInterface(named: topology.insideInterface)
            let middle = try TCAttachment.attachTCX(programs[0], to: interface, direction: .ingress)
            let revision = try TCX.chain(of: interface, direction: .ingress).revision
            let head = try TCAttachment.attachTCX(programs[1], to: interface, direction: .ingress, placement: .first, expectedRevision: revision)
            let tail = try TCAttachment.attachTCX(programs[2], to: interface, direction: .ingress, placement: .after(programID: ids[0]))
            #expect(try TCX.chain(of: interface, direction: .ingress).entries.map(\.programID) == [ids[1], ids[0], ids[2]])
            // A stale revision is refused.
            do {
                _ = try TCAttachment.attachTCX(programs[3], to: interface, direction: .ingress, expectedRevision: revision)
                Issue.record("a stale expected revision was accepted")
            } catch let error as BPFError {
                #expect(error.errno == Errno(116)) // ESTALE
                #expect(error.description.contains("changed since revision"))
            }
            // Every program in the chain sees each echo request.
            #expect(try topology.ping(count: 2))
            #expect(try counterValue(counts) == 6)
            for attachment in [head, middle, tail] { try attachment.close() }
            #expect(try TCX.chain(of: interface, direction: .ingress).entries.isEmpty)
        }
    }

    @Test func tcxUnownedAttachmentOutlivesItsProgramObject() throws {
        // What `swiftbpf net attach tcx_ingress` does: BPF_PROG_ATTACH without a link, kept by
        // the kernel after every descriptor is closed, removed with BPF_PROG_DETACH.
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let counts = try makeCounterMap("sbpfnet_tcxun")

        try topology.inside {
            let interface = try NetworkInterface(named: topology.insideInterface)
            let programID: UInt32
            do {
                let program = try Self.icmpTC(counts, verdict: TCVerdict.pass, name: "sbpfnet_tcxun")
                programID = try program.info().id
                try TCX.attachUnowned(program, to: interface, direction: .ingress)
                try program.close()
            }
            let chain = try TCX.chain(of: interface, direction: .ingress)
            #expect(chain.entries.map(\.programID) == [programID])
            #expect(chain.entries.first?.linkID == 0)
            #expect(try topology.ping(count: 2))
            #expect(try counterValue(counts) == 2)

            try TCX.detachUnowned(from: interface, direction: .ingress)
            #expect(try TCX.chain(of: interface, direction: .ingress).entries.isEmpty)
            do {
                try TCX.detachUnowned(from: interface, direction: .ingress)
                Issue.record("detaching from an empty tcx chain succeeded")
            } catch let error as BPFError {
                #expect(error.errno == .ENOENT)
            }
        }
    }
}
