import BPFObject
import Foundation
import Testing
import TestSupport

/// Our section-name table against libbpf's own `libbpf_prog_type_by_name` (libbpf-dev), via a
/// tiny C program built at test time. Names the installed libbpf does not know (newer than it)
/// are skipped; every name it knows must map to the same program and expected attach type.
@Suite("ObjectSection libbpf parity")
struct ObjectSectionLibbpfTests {
    static let names = [
        "socket", "sk_reuseport", "sk_reuseport/migrate", "kprobe/do_sys_open", "kprobe", "kretprobe/x", "uprobe", "uprobe//bin/true:main",
        "uprobe.s/x", "uretprobe/x", "uretprobe.s/x", "kprobe.multi/x", "kretprobe.multi/x", "uprobe.multi/x", "ksyscall/openat",
        "kretsyscall/openat", "usdt/x", "usdt", "tc", "tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress", "classifier", "action",
        "tracepoint/syscalls/sys_enter_openat", "tp/sched/sched_switch", "raw_tracepoint/sys_enter", "raw_tp/sys_enter",
        "raw_tracepoint.w/x", "raw_tp.w/x", "tp_btf/sched_switch", "fentry/x", "fmod_ret/x", "fexit/x", "fentry.s/x", "fmod_ret.s/x",
        "fexit.s/x", "freplace/x", "lsm/file_open", "lsm.s/file_open", "lsm_cgroup/x", "iter/task", "iter.s/task", "syscall",
        "xdp.frags/devmap", "xdp/devmap", "xdp.frags/cpumap", "xdp/cpumap", "xdp.frags", "xdp", "perf_event", "lwt_in", "lwt_out",
        "lwt_xmit", "lwt_seg6local", "sockops", "sk_skb/stream_parser", "sk_skb/stream_verdict", "sk_skb/verdict", "sk_skb", "sk_msg",
        "lirc_mode2", "flow_dissector", "cgroup_skb/ingress", "cgroup_skb/egress", "cgroup/skb", "cgroup/sock_create",
        "cgroup/sock_release", "cgroup/sock", "cgroup/post_bind4", "cgroup/post_bind6", "cgroup/bind4", "cgroup/bind6",
        "cgroup/connect4", "cgroup/connect6", "cgroup/connect_unix", "cgroup/sendmsg4", "cgroup/sendmsg6", "cgroup/sendmsg_unix",
        "cgroup/recvmsg4", "cgroup/recvmsg6", "cgroup/recvmsg_unix", "cgroup/getpeername4", "cgroup/getpeername6",
        "cgroup/getpeername_unix", "cgroup/getsockname4", "cgroup/getsockname6", "cgroup/getsockname_unix", "cgroup/sysctl",
        "cgroup/getsockopt", "cgroup/setsockopt", "cgroup/dev", "struct_ops/x", "struct_ops.s/x", "sk_lookup", "netfilter",
        "xdp_foo", "tracepointx", "socket/x", "kprobe.s/x", "nonsense",
    ]

    @Test func sectionTableMatchesInstalledLibbpf() throws {
        guard FileManager.default.fileExists(atPath: "/usr/include/bpf/libbpf.h") else { return } // libbpf-dev absent
        let directory = NSTemporaryDirectory() + "swiftbpf-sections-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = directory + "/sections.c", binary = directory + "/sections"
        try """
            #include <stdio.h>
            #include <bpf/libbpf.h>
            static int quiet(enum libbpf_print_level level, const char *format, va_list args) { return 0; }
            int main(int argc, char **argv) {
                libbpf_set_print(quiet);
                for (int i = 1; i < argc; i++) {
                    enum bpf_prog_type type; enum bpf_attach_type attach;
                    if (libbpf_prog_type_by_name(argv[i], &type, &attach)) printf("%s -\\n", argv[i]);
                    else printf("%s %d %d\\n", argv[i], type, attach);
                }
                return 0;
            }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let compile = try ChildProcess.run("/opt/swift/usr/bin/clang", [source, "-o", binary, "-lbpf"], mergingErrors: true)
        try #require(compile.status == 0, "\(compile.output)")
        let text = try ChildProcess.run(binary, Self.names).stdout
        var compared = 0
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 2 else { continue }
            let ours = SectionDefinition.matching(fields[0])
            if fields[1] == "-" {
                // Unknown to this libbpf: either newer than it, or unknown to both.
                if ["xdp_foo", "tracepointx", "socket/x", "kprobe.s/x", "nonsense"].contains(fields[0]) { #expect(ours == nil, "\(fields[0])") }
                continue
            }
            compared += 1
            let definition = try #require(ours, "libbpf knows '\(fields[0])', we do not")
            #expect(definition.programType.rawValue == UInt32(fields[1]), "\(fields[0]): type \(definition.programType) vs libbpf \(fields[1])")
            #expect((definition.expectedAttachType?.rawValue ?? 0) == UInt32(fields[2]), "\(fields[0]): attach \(String(describing: definition.expectedAttachType)) vs libbpf \(fields[2])")
        }
        #expect(compared > 80)
    }
}
