import ArgumentParser
import BPF
import BPFCompiler
import ExampleSupport
import Foundation

/// Chapter 2's hello-map.py: a hash map `counter_table` keyed by user id, incremented by the
/// BPF side on every execve; user space prints every entry every 2 seconds as
/// `ID <uid>: <count>` separated by tabs. The original hooked the execve syscall with a kprobe;
/// here `hello` is on the tracepoint syscalls:sys_enter_execve (`--kprobe` tries the original).
@main
struct HelloMap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hello-map",
        abstract: "Count execve calls per user id in a BPF hash map and print \"ID <uid>: <count>\" every 2 seconds.",
        discussion: """
            BPF_HASH(counter_table) (u64 keys and values, as BCC's defaults) is read from Swift \
            by name: module["counter_table"].items(...). BCC's counter_table.lookup(&uid) method \
            syntax needs BCC's C rewriter, so the C side calls bpf_map_lookup_elem.

            EXAMPLES:
              hello-map                  # then run some commands, e.g. ls; sudo -u nobody true
              hello-map --interval 1
            """)

    @Option(help: "Seconds between printouts.")
    var interval: Double = 2

    @Flag(help: "Attach a kprobe to the kernel's execve entry function, as the original; fails clearly on kernels without kprobes.")
    var kprobe = false

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    func run() throws {
        Interrupt.install()
        let module = try BPFModule(source: """
            BPF_HASH(counter_table);

            int hello(void *ctx)
            {
                u64 uid;
                u64 counter = 0;
                u64 *p;

                uid = bpf_get_current_uid_gid() & 0xFFFFFFFF;
                p = bpf_map_lookup_elem(&counter_table, &uid);
                if (p != 0) {
                    counter = *p;
                }
                counter++;
                bpf_map_update_elem(&counter_table, &uid, &counter, BPF_ANY);
                return 0;
            }
            """)
        defer { module.close() }
        if kprobe {
            try module.attachKprobe(event: try BPFModule.syscallFunctionName("execve"), function: "hello")
        } else {
            try module.attachTracepoint("syscalls:sys_enter_execve", function: "hello")
        }
        print("Counting execve calls per uid... Ctrl-C to end.")
        let table = try module["counter_table"]
        let deadline = Interrupt.deadline(afterSeconds: duration)
        while !Interrupt.isRequested(deadline: deadline) {
            let next = ContinuousClock.now + .milliseconds(Int64(interval * 1000))
            while !Interrupt.isRequested(deadline: deadline), ContinuousClock.now < next { usleep(20_000) }
            if Interrupt.isRequested(deadline: deadline) { break }
            var line = ""
            for (uid, count) in try table.items(keyType: UInt64.self, valueType: UInt64.self) {
                line += "ID \(uid): \(count)\t"
            }
            print(line)
        }
    }
}
