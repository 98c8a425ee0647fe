import ArgumentParser
import BPF
import BPFObject

/// `swiftbpf feature [probe]`: what this kernel supports, like `bpftool feature probe`.
struct FeatureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feature",
        abstract: "Probe the kernel's BPF features (bpftool feature probe).",
        subcommands: [Probe.self],
        defaultSubcommand: Probe.self
    )

    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Probe program types, map types, helpers, attach kinds and system settings.")
        @OptionGroup var output: OutputOptions
        @Flag(help: "Also probe helpers that write a warning to the kernel log (bpf_trace_printk, bpf_probe_write_user).")
        var full = false
        @Argument(parsing: .allUnrecognized, help: "Accepted for bpftool compatibility: kernel") var target: [String] = []

        mutating func run() throws {
            var output = self.output
            var words = output.absorbFlags(from: target)
            if words.first == "kernel" { words = words.dropFirst() }
            if words.first == "full" { full = true; words = words.dropFirst() }
            let includeNoisy = full
            try reportingErrors(output) {
                if let extra = words.first { throw BPFError.invalidArgument("unexpected argument '\(extra)' (expected: kernel, full)") }
                emit(FeatureReport.render(output: output, includingNoisyHelpers: includeNoisy))
            }
        }
    }
}

/// bpftool's feature report, section by section, in text or JSON.
enum FeatureReport {
    /// The kernel config options bpftool reports, in its order.
    static let configOptions = [
        "CONFIG_BPF", "CONFIG_BPF_SYSCALL", "CONFIG_HAVE_EBPF_JIT", "CONFIG_BPF_JIT", "CONFIG_BPF_JIT_ALWAYS_ON",
        "CONFIG_DEBUG_INFO_BTF", "CONFIG_DEBUG_INFO_BTF_MODULES", "CONFIG_CGROUPS", "CONFIG_CGROUP_BPF",
        "CONFIG_CGROUP_NET_CLASSID", "CONFIG_SOCK_CGROUP_DATA", "CONFIG_BPF_EVENTS", "CONFIG_KPROBE_EVENTS",
        "CONFIG_UPROBE_EVENTS", "CONFIG_TRACING", "CONFIG_FTRACE_SYSCALLS", "CONFIG_FUNCTION_ERROR_INJECTION",
        "CONFIG_BPF_KPROBE_OVERRIDE", "CONFIG_NET", "CONFIG_XDP_SOCKETS", "CONFIG_LWTUNNEL_BPF", "CONFIG_NET_ACT_BPF",
        "CONFIG_NET_CLS_BPF", "CONFIG_NET_CLS_ACT", "CONFIG_NET_SCH_INGRESS", "CONFIG_XFRM", "CONFIG_IP_ROUTE_CLASSID",
        "CONFIG_IPV6_SEG6_BPF", "CONFIG_BPF_LIRC_MODE2", "CONFIG_BPF_STREAM_PARSER", "CONFIG_NETFILTER_XT_MATCH_BPF",
        "CONFIG_BPFILTER", "CONFIG_BPFILTER_UMH", "CONFIG_TEST_BPF", "CONFIG_HZ",
    ]

    static func render(output: OutputOptions, includingNoisyHelpers: Bool) -> String {
        let settings = BPFSystemSettings.current()
        let config = KernelConfiguration.current()
        let programTypes = ProgramType.allCases.filter { $0 != .unspecified }
        let mapTypes = MapType.allCases.filter { $0 != .unspecified }
        let misc: [(key: String, text: String, result: ProbeResult)] = [
            ("have_large_insn_limit", "Large program size limit", FeatureProbe.largeInstructionLimit),
            ("have_bounded_loops", "Bounded loop support", FeatureProbe.boundedLoops),
            ("have_v2_isa_extension", "ISA extension v2", FeatureProbe.isaV2),
            ("have_v3_isa_extension", "ISA extension v3", FeatureProbe.isaV3),
        ]
        let attach: [(key: String, text: String, result: ProbeResult)] = [
            ("have_bpf_link", "BPF link support (BPF_LINK_CREATE)", FeatureProbe.bpfLinks),
            ("have_perf_link", "perf_event link support", FeatureProbe.perfLinks),
            ("have_tcx_link", "tcx link support", FeatureProbe.tcx),
            ("have_kprobes", "kprobe support (CONFIG_KPROBES)", FeatureProbe.kprobes),
            ("have_kprobe_pmu", "kprobe PMU (CONFIG_KPROBE_EVENTS)", FeatureProbe.kprobePMU),
            ("have_uprobe_pmu", "uprobe PMU (CONFIG_UPROBE_EVENTS)", FeatureProbe.uprobePMU),
        ]
        func helpers(_ type: ProgramType) -> [(id: Int32, name: String)]? {
            FeatureProbe.programType(type).isAvailable ? FeatureProbe.availableHelpers(for: type, includingNoisy: includingNoisyHelpers) : []
        }

        if output.isJSON {
            var w = output.makeWriter()
            w.beginObject()
            w.name("system_config")
            w.beginObject()
            w.field("unprivileged_bpf_disabled", settings.unprivilegedBPFDisabled ?? -1)
            w.field("bpf_jit_enable", settings.jitEnabled ?? -1)
            w.field("bpf_jit_harden", settings.jitHarden ?? -1)
            w.field("bpf_jit_kallsyms", settings.jitKallsyms ?? -1)
            w.field("bpf_jit_limit", settings.jitLimit ?? -1)
            if let config {
                for option in configOptions {
                    w.name(option)
                    if let value = config[option] { w.value(value) } else { w.null() }
                }
            }
            w.endObject()
            w.name("syscall_config")
            w.beginObject()
            w.field("have_bpf_syscall", FeatureProbe.bpfSyscall.isAvailable)
            w.endObject()
            w.name("program_types")
            w.beginObject()
            for type in programTypes { w.field("have_\(type.name)_prog_type", FeatureProbe.programType(type).isAvailable) }
            w.endObject()
            w.name("map_types")
            w.beginObject()
            for type in mapTypes { w.field("have_\(type.name)_map_type", FeatureProbe.mapType(type).isAvailable) }
            w.endObject()
            w.name("helpers")
            w.beginObject()
            for type in programTypes {
                w.name("\(type.name)_available_helpers")
                w.beginArray()
                for helper in helpers(type) ?? [] { w.value(helper.name) }
                w.endArray()
            }
            w.endObject()
            w.name("misc")
            w.beginObject()
            for item in misc { w.field(item.key, item.result.isAvailable) }
            w.endObject()
            w.name("attach_kinds")
            w.beginObject()
            for item in attach { w.field(item.key, item.result.isAvailable) }
            w.endObject()
            w.endObject()
            return w.document
        }

        var out = "Scanning system configuration...\n"
        out += systemText(settings)
        if let config {
            for option in configOptions {
                if let value = config[option] { out += "\(option) is set to \(value)\n" } else { out += "\(option) is not set\n" }
            }
        } else {
            out += "skipping kernel config, can't open file: /boot/config-RELEASE or /proc/config.gz\n"
        }
        out += "\nScanning system call availability...\n"
        out += FeatureProbe.bpfSyscall.isAvailable ? "bpf() syscall is available\n" : "bpf() syscall is NOT available\n"
        out += "\nScanning eBPF program types...\n"
        for type in programTypes {
            out += "eBPF program_type \(type.name) is \(FeatureProbe.programType(type).isAvailable ? "available" : "NOT available")\n"
        }
        out += "\nScanning eBPF map types...\n"
        for type in mapTypes {
            out += "eBPF map_type \(type.name) is \(FeatureProbe.mapType(type).isAvailable ? "available" : "NOT available")\n"
        }
        out += "\nScanning eBPF helper functions...\n"
        for type in programTypes {
            out += "eBPF helpers supported for program type \(type.name):\n"
            if !FeatureProbe.programType(type).isAvailable {
                out += "\tProgram type not supported\n"
            } else if let list = helpers(type) {
                for helper in list { out += "\t- \(helper.name)\n" }
            } else {
                out += "\tCould not determine which helpers are available\n"
            }
        }
        out += "\nScanning miscellaneous eBPF features...\n"
        for item in misc { out += "\(item.text) is \(item.result.isAvailable ? "available" : "NOT available")\n" }
        out += "\nScanning attach kinds...\n"
        for item in attach { out += "\(item.text) is \(item.result.isAvailable ? "available" : "NOT available")\n" }
        return out + "\n"
    }

    static func systemText(_ settings: BPFSystemSettings) -> String {
        var out = ""
        switch settings.unprivilegedBPFDisabled {
        case 0: out += "bpf() syscall for unprivileged users is enabled\n"
        case 1: out += "bpf() syscall restricted to privileged users (without recovery)\n"
        case 2: out += "bpf() syscall restricted to privileged users (admin can change)\n"
        case nil: out += "Unable to retrieve required privileges for bpf() syscall\n"
        case let value?: out += "bpf() syscall restriction has unknown value \(value)\n"
        }
        switch settings.jitEnabled {
        case 0: out += "JIT compiler is disabled\n"
        case 1: out += "JIT compiler is enabled\n"
        case 2: out += "JIT compiler is enabled with debugging traces in kernel logs\n"
        case nil: out += "Unable to retrieve JIT-compiler status\n"
        case let value?: out += "JIT-compiler status has unknown value \(value)\n"
        }
        switch settings.jitHarden {
        case 0: out += "JIT compiler hardening is disabled\n"
        case 1: out += "JIT compiler hardening is enabled for unprivileged users\n"
        case 2: out += "JIT compiler hardening is enabled for all users\n"
        case nil: out += "Unable to retrieve JIT hardening status\n"
        case let value?: out += "JIT hardening status has unknown value \(value)\n"
        }
        switch settings.jitKallsyms {
        case 0: out += "JIT compiler kallsyms exports are disabled\n"
        case 1: out += "JIT compiler kallsyms exports are enabled for root\n"
        case 2: out += "JIT compiler kallsyms exports are enabled for all users\n"
        case nil: out += "Unable to retrieve JIT kallsyms export status\n"
        case let value?: out += "JIT kallsyms exports status has unknown value \(value)\n"
        }
        if let limit = settings.jitLimit {
            out += "Global memory limit for JIT compiler for unprivileged users is \(limit) bytes\n"
        } else {
            out += "Unable to retrieve global memory limit for JIT compiler for unprivileged users\n"
        }
        return out
    }
}
