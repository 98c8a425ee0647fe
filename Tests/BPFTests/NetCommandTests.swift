import BPF
import BPFObject
import Foundation
import Testing

/// End-to-end: the `swiftbpf net` executable (built next to the test bundle by `swift test`),
/// run inside the test namespace, against the kernel and bpftool.
@Suite(.kernel, .serialized)
struct NetCommandTests {
    static var executable: String? {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidate = directory.appendingPathComponent("swiftbpf").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    func swiftbpf(_ topology: VethTopology, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let executable = try #require(Self.executable, "the swiftbpf executable was not built next to the tests")
        return try NetTestShell.run(["nsenter", "--net=/run/netns/\(topology.insideNamespace)", executable] + arguments)
    }

    @Test func attachPersistsAfterTheCommandAndDetachRemovesIt() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        let counts = try makeCounterMap("sbpfnet_clixdp")
        let xdp = try NetXDPTests.icmpXDP(counts, verdict: XDPVerdict.pass)
        let xdpID = try xdp.info().id
        let tcCounts = try makeCounterMap("sbpfnet_clitc")
        let tc = try NetTCTests.icmpTC(tcCounts, verdict: TCVerdict.pass, name: "sbpfnet_clitcx")
        let tcID = try tc.info().id
        let device = topology.insideInterface

        // XDP through netlink: the command exits, the program stays.
        var result = try swiftbpf(topology, ["net", "attach", "xdpgeneric", "id", "\(xdpID)", "dev", device])
        #expect(result.status == 0, "\(result.output)")
        #expect(try topology.ping(count: 2))
        #expect(try counterValue(counts) == 2)

        // Without overwrite, a second attach is refused with a specific message.
        result = try swiftbpf(topology, ["net", "attach", "xdpgeneric", "id", "\(xdpID)", "dev", device])
        #expect(result.status != 0)
        #expect(result.output.contains("EBUSY") && result.output.contains("program id \(xdpID) (generic)"))
        result = try swiftbpf(topology, ["net", "attach", "xdpgeneric", "id", "\(xdpID)", "dev", device, "overwrite"])
        #expect(result.status == 0, "\(result.output)")

        // tcx without a link: kept by the kernel, nothing pinned.
        result = try swiftbpf(topology, ["net", "attach", "tcx_ingress", "id", "\(tcID)", "dev", device])
        #expect(result.status == 0, "\(result.output)")
        #expect(try topology.ping(count: 2))
        #expect(try counterValue(tcCounts) == 2)

        // `net list` agrees with bpftool where bpftool 7.1 can see (xdp, cls_bpf), and shows tcx.
        result = try swiftbpf(topology, ["net", "list", "--json"])
        #expect(result.status == 0)
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]]).first ?? [:]
        let bpftool = try topology.bpftoolNetList()
        #expect(NSArray(array: (listed["xdp"] as? [Any]) ?? []).isEqual(to: (bpftool["xdp"] as? [Any]) ?? [1]))
        let tcEntries = (listed["tc"] as? [[String: Any]]) ?? []
        #expect(tcEntries.count == 1)
        #expect(tcEntries.first?["kind"] as? String == "tcx/ingress")
        #expect((tcEntries.first?["prog_id"] as? NSNumber)?.uint32Value == tcID)
        #expect((tcEntries.first?["link_id"] as? NSNumber)?.uint32Value == 0)
        result = try swiftbpf(topology, ["net", "list"])
        #expect(result.output.contains("\(device)(") && result.output.contains(" generic id \(xdpID)\n"))
        #expect(result.output.contains(" tcx/ingress sbpfnet_clitcx prog_id \(tcID) \n"))

        // Detach both; nothing is left for bpftool or the kernel to report.
        result = try swiftbpf(topology, ["net", "detach", "xdpgeneric", "dev", device])
        #expect(result.status == 0, "\(result.output)")
        result = try swiftbpf(topology, ["net", "detach", "tcx_ingress", "dev", device])
        #expect(result.status == 0, "\(result.output)")
        #expect(((try topology.bpftoolNetList()["xdp"] as? [Any]) ?? [1]).isEmpty)
        result = try swiftbpf(topology, ["net", "list"])
        #expect(result.output == "xdp:\n\ntc:\n\nflow_dissector:\n\nnetfilter:\n\n")
    }

    @Test func badArgumentsGiveSpecificErrors() throws {
        let topology = try VethTopology()
        defer { topology.tearDown() }
        var result = try swiftbpf(topology, ["net", "attach", "xdpgeneric", "id", "1", "dev", "sbpfnosuch0"])
        #expect(result.status != 0)
        #expect(result.output.contains("interface not found") || result.output.contains("no program with id 1"))
        result = try swiftbpf(topology, ["net", "attach", "bogus", "id", "1", "dev", "lo"])
        #expect(result.status != 0)
        #expect(result.output.contains("invalid net attach/detach type: bogus"))
        result = try swiftbpf(topology, ["net", "list", "dev", "sbpfnosuch0"])
        #expect(result.status != 0)
        #expect(result.output.contains("interface not found: 'sbpfnosuch0'"))
        result = try swiftbpf(topology, ["net", "detach", "xdp", "dev", "lo", "extra"])
        #expect(result.status != 0)
    }
}
