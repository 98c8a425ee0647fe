@testable import BPF
import BPFObject
import Foundation
import Testing

@Suite(.kernel, .serialized)
struct FeatureProbeTests {
    /// bpftool's own report on this kernel, the reference.
    static func bpftoolReport() throws -> [String: Any] {
        let result = try CommandRunner.bpftool("feature", "probe", "--json")
        return try #require(try CommandRunner.json(result.stdout) as? [String: Any])
    }

    @Test func programAndMapTypesAgreeWithBPFTool() throws {
        let report = try Self.bpftoolReport()
        let programTypes = try #require(report["program_types"] as? [String: Bool])
        var compared = 0
        for type in ProgramType.allCases {
            guard let expected = programTypes["have_\(type.name)_prog_type"] else { continue }
            #expect(FeatureProbe.programType(type).isAvailable == expected, "program type \(type.name): \(FeatureProbe.programType(type))")
            compared += 1
        }
        #expect(compared >= 30)
        let mapTypes = try #require(report["map_types"] as? [String: Bool])
        compared = 0
        for type in MapType.allCases {
            guard let expected = mapTypes["have_\(type.name)_map_type"] else { continue }
            #expect(FeatureProbe.mapType(type).isAvailable == expected, "map type \(type.name): \(FeatureProbe.mapType(type))")
            compared += 1
        }
        #expect(compared >= 30)
    }

    @Test func helpersAgreeWithBPFTool() throws {
        let report = try Self.bpftoolReport()
        let helpers = try #require(report["helpers"] as? [String: [String]])
        // bpftool only knows the helpers of its own release: compare up to the highest id it names.
        let named = Set(helpers.values.flatMap { $0 })
        let newestKnown = KernelHelperCatalog.helpers.filter { named.contains($0.name) }.map(\.id).max() ?? 0
        #expect(newestKnown > 150)
        for type in [ProgramType.socketFilter, .kprobe, .xdp, .schedCls, .tracepoint, .cgroupSkb, .sockOps] {
            let expected = try #require(helpers["\(type.name)_available_helpers"])
            let ours = try #require(FeatureProbe.availableHelpers(for: type)).filter { $0.id <= newestKnown }.map(\.name)
            #expect(ours == expected, "helpers of \(type.name)")
        }
        #expect(FeatureProbe.helper(HelperFunction.mapLookupElem.rawValue, for: .xdp).isAvailable)
        // A helper id beyond the kernel's table is "invalid func".
        #expect(!FeatureProbe.helper(100_000, for: .xdp).isAvailable)
        #expect(FeatureProbe.availableHelpers(for: .tracing) == nil)
    }

    @Test func helperCatalogComesFromKernelBTF() {
        let helpers = KernelHelperCatalog.helpers
        #expect(helpers.first?.id == 1 && helpers.first?.name == "bpf_map_lookup_elem")
        #expect(helpers.count > 200)
        #expect(KernelHelperCatalog.name(of: 130) == "bpf_ringbuf_output")
        #expect(zip(helpers, helpers.dropFirst()).allSatisfy { $0.id < $1.id })
    }

    @Test func miscAndAttachProbesMatchThisMachine() throws {
        let report = try Self.bpftoolReport()
        let misc = try #require(report["misc"] as? [String: Bool])
        #expect(FeatureProbe.largeInstructionLimit.isAvailable == misc["have_large_insn_limit"])
        #expect(FeatureProbe.boundedLoops.isAvailable == misc["have_bounded_loops"])
        #expect(FeatureProbe.isaV2.isAvailable == misc["have_v2_isa_extension"])
        #expect(FeatureProbe.isaV3.isAvailable == misc["have_v3_isa_extension"])
        #expect(FeatureProbe.bpfLinks.isAvailable)
        #expect(FeatureProbe.perfLinks.isAvailable)
        // The kprobe PMU exists exactly when the kernel was built with kprobe events.
        let config = KernelConfiguration.current()
        if let config {
            #expect(FeatureProbe.kprobePMU.isAvailable == (config["CONFIG_KPROBE_EVENTS"] == "y"))
            #expect(FeatureProbe.uprobePMU.isAvailable == (config["CONFIG_UPROBE_EVENTS"] == "y"))
            #expect(FeatureProbe.kprobes.isAvailable == (config["CONFIG_KPROBES"] == "y"))
            if config["CONFIG_KPROBES"] == nil {
                #expect(FeatureProbe.kprobes.description.contains("CONFIG_KPROBES"))
            }
        }
        let system = try #require(report["system_config"] as? [String: Any])
        let settings = BPFSystemSettings.current()
        #expect(settings.jitEnabled == system["bpf_jit_enable"] as? Int)
        #expect(settings.unprivilegedBPFDisabled == system["unprivileged_bpf_disabled"] as? Int)
        for (key, value) in system where key.hasPrefix("CONFIG_") {
            #expect(config?[key] == value as? String, "\(key)")
        }
    }

    @Test func cliFeatureProbeMatchesBPFToolOnSharedKeys() throws {
        let ours = try CommandRunner.swiftbpf("feature", "probe", "--json")
        #expect(ours.status == 0)
        let mine = try #require(try CommandRunner.json(ours.stdout) as? [String: Any])
        let reference = try Self.bpftoolReport()
        for section in ["system_config", "syscall_config", "program_types", "map_types", "misc"] {
            let theirs = try #require(reference[section] as? [String: Any])
            let our = try #require(mine[section] as? [String: Any])
            for (key, value) in theirs {
                #expect("\(our[key] ?? "missing")" == "\(value)", "\(section).\(key)")
            }
        }
        // Text: every line bpftool prints for program and map types is in ours.
        let text = try CommandRunner.swiftbpf("feature").stdout
        let bpftoolText = try CommandRunner.bpftool("feature", "probe").stdout
        for line in bpftoolText.split(separator: "\n") where line.hasPrefix("eBPF program_type") || line.hasPrefix("eBPF map_type") {
            #expect(text.contains(line + "\n"), "\(line)")
        }
    }
}

/// The pure parsers behind the probes and inspection; no kernel needed.
struct InspectionParsingTests {
    @Test func helperIDsComeFromTheBPFFuncIDEnum() throws {
        // A BTF with `enum bpf_func_id { BPF_FUNC_unspec, BPF_FUNC_map_lookup_elem, __BPF_FUNC_MAX_ID }`.
        func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        let strings = Array("\0bpf_func_id\0BPF_FUNC_unspec\0BPF_FUNC_map_lookup_elem\0__BPF_FUNC_MAX_ID\0".utf8)
        let types = le(1) + le((6 << 24) | 3) + le(4) + le(13) + le(0) + le(29) + le(1) + le(54) + le(2)
        let data: [UInt8] = [0x9f, 0xeb, 1, 0] + le(24) + le(0) + le(UInt32(types.count)) + le(UInt32(types.count))
            + le(UInt32(strings.count)) + types + strings
        let btf = try BTF(data)
        let helpers = try #require(KernelHelperCatalog.helperIDs(in: btf))
        #expect(helpers.map(\.id) == [1])
        #expect(helpers.map(\.name) == ["bpf_map_lookup_elem"])
    }

    @Test func fdinfoAndKernelConfigParsing() {
        let fdinfo = FileDescriptorInfo(parsing: "pos:\t0\nflags:\t02000002\nmap_type:\t3\nmemlock:\t4096\nfrozen:\t1\nowner_prog_type:\t6\nowner_jited:\t1\n")
        #expect(fdinfo.memlock == 4096)
        #expect(fdinfo.isFrozen)
        #expect(fdinfo.ownerProgramType == 6 && fdinfo.ownerJited == true)
        #expect(FileDescriptorInfo(parsing: "garbage").memlock == nil)
        let config = KernelConfiguration(parsing: "# comment\nCONFIG_BPF=y\n# CONFIG_KPROBES is not set\nCONFIG_HZ=250\nCONFIG_X=\"a=b\"\n", source: "test")
        #expect(config["CONFIG_BPF"] == "y" && config["CONFIG_HZ"] == "250" && config["CONFIG_X"] == "\"a=b\"")
        #expect(config["CONFIG_KPROBES"] == nil)
    }

    @Test func selectorsParseLikeBPFTool() throws {
        #expect(try ObjectSelector.parse(["id", "5", "key"], allowsTag: false).0 == .id(5))
        #expect(try ObjectSelector.parse(["tag", "56BB43529FA3EB7E"], allowsTag: true).0 == .tag("56bb43529fa3eb7e"))
        #expect(throws: BPFError.self) { try ObjectSelector.parse(["tag", "56bb43529fa3eb7e"], allowsTag: false) }
        #expect(throws: BPFError.self) { try ObjectSelector.parse(["id"], allowsTag: false) }
        #expect(throws: BPFError.self) { try ObjectSelector.parse(["id", "-1"], allowsTag: false) }
        #expect(throws: BPFError.self) { try ObjectSelector.parse(["idx", "1"], allowsTag: false) }
    }
}
