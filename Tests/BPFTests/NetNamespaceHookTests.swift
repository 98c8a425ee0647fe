import BPF
import BPFObject
import Foundation
import Testing

@Suite(.kernel, .serialized)
struct NetNetfilterTests {
    /// Counts every packet reaching the hook and returns `verdict` (NF_DROP 0, NF_ACCEPT 1).
    static func counting(_ map: Map, verdict: Int32, name: String) throws -> Program {
        var asm = Assembler()
        emitCounterIncrement(&asm, map: map, label: "counted")
        asm.mov(.r0, verdict)
        asm.exit()
        return try Program(ProgramSpec(name: name, type: .netfilter, expectedAttachType: .netfilter, instructions: asm.assemble()))
    }

    @Test func localInHookCountsAcceptsAndDrops() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let counts = try makeCounterMap("sbpfnet_nfcnt")
        let accepting = try Self.counting(counts, verdict: 1, name: "sbpfnet_nfacc")
        let acceptingID = try accepting.info().id
        let drops = try makeCounterMap("sbpfnet_nfdrop")
        let dropping = try Self.counting(drops, verdict: 0, name: "sbpfnet_nfdrop")

        try topology.inside {
            var attachment: NetfilterAttachment? = try NetfilterAttachment.attach(accepting, family: .ipv4, hook: .localIn, priority: -128)
            // Only namespace B's IPv4 input is hooked: the three echo requests from A.
            #expect(try topology.ping(count: 3))
            #expect(try counterValue(counts) == 3)

            let listing = try NetworkAttachments.list()
            let entry = try #require(listing.netfilter.first { $0.programID == acceptingID })
            #expect(entry.protocolFamily == 2 && entry.hook == 1 && entry.priority == -128 && entry.flags == 0)
            #expect(listing.bpftoolText().contains("\n\tip input prio -128 prog_id \(acceptingID)"))
            attachment = nil
            _ = attachment
            #expect(try NetworkAttachments.list().netfilter.contains { $0.programID == acceptingID } == false)

            let dropper = try NetfilterAttachment.attach(dropping, family: .ipv4, hook: .localIn, priority: -127, defragment: true)
            #expect(try topology.ping(count: 2) == false)
            #expect(try counterValue(drops) == 2)
            try dropper.close()
            #expect(try topology.ping(count: 1))
            #expect(try counterValue(drops) == 2)
        }
    }

    @Test func reservedPriorityAndWrongProgramAreRefused() throws {
        let counts = try makeCounterMap("sbpfnet_nfbad")
        let program = try Self.counting(counts, verdict: 1, name: "sbpfnet_nfbad")
        #expect(throws: BPFError.self) { _ = try NetfilterAttachment.attach(program, family: .ipv4, hook: .localIn, priority: Int32.min) }
        // Defragmentation runs at -400: a defragmenting hook must come after it.
        do {
            _ = try NetfilterAttachment.attach(program, family: .ipv4, hook: .localIn, priority: -500, defragment: true)
            Issue.record("a defragmenting hook before the defragmenter was accepted")
        } catch let error as BPFError {
            #expect(error.errno == .ERANGE)
            #expect(error.description.contains("-400"))
        }
    }
}

@Suite(.kernel, .serialized)
struct NetFlowDissectorTests {
    @Test func flowDissectorLinkIsListedLikeBpftool() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        // BPF_OK without filling the keys: dissection falls back to nothing, traffic still flows.
        let program = try Program(ProgramSpec(name: "sbpfnet_flow", type: .flowDissector, expectedAttachType: .flowDissector,
                                              instructions: [Instruction(opcode: 0xb7, dst: 0, immediate: 0), Instruction(opcode: 0x95)]))
        let programID = try program.info().id

        try topology.inside {
            var attachment: NetworkNamespaceAttachment? = try NetworkNamespaceAttachment.attach(program, attachType: .flowDissector)
            let listing = try NetworkAttachments.list()
            #expect(listing.flowDissectorProgramID == programID)
            #expect(listing.bpftoolText().contains("flow_dissector:\nid \(programID)\n"))
            // bpftool 7.1 prints everything up to and including flow_dissector.
            #expect(listing.bpftoolText().hasPrefix(try topology.bpftoolNetListText()))
            do {
                _ = try NetworkNamespaceAttachment.attach(program, attachType: .flowDissector)
                Issue.record("a second flow dissector was attached to the same namespace")
            } catch let error as BPFError {
                #expect(error.errno == .E2BIG)
                #expect(error.description.contains("already attached to this network namespace"))
            }
            #expect(try topology.ping(count: 1))
            attachment = nil
            _ = attachment
            #expect(try NetworkAttachments.list().flowDissectorProgramID == nil)
        }
        // Other namespaces never saw it.
        #expect(try NetworkAttachments.list().flowDissectorProgramID != programID)
    }
}
