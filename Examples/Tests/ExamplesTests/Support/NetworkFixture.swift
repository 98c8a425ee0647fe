import ExampleSupport
import Foundation
import Testing

/// What the tests ask of their own small network (ExampleSupport's veth pair and namespace).
extension VethNamespace {
    /// `ping -c count -W 1 address`, from the host or (with `fromNamespace`) from inside the
    /// namespace; returns the number of replies ping reports.
    func ping(_ address: String, count: Int = 3, fromNamespace: Bool = false) throws -> (received: Int?, text: String) {
        let pingArguments = ["-c", String(count), "-i", "0.3", "-W", "1", address]
        let result = fromNamespace
            ? try Command.runCapturing("/usr/sbin/ip", ["netns", "exec", namespace, "/usr/bin/ping"] + pingArguments)
            : try Command.runCapturing("/usr/bin/ping", pingArguments)
        // "3 packets transmitted, 0 received, 100% packet loss, time 2031ms"
        let received = result.output.split(separator: "\n").first { $0.contains(" received") }
            .flatMap { $0.split(separator: ",").first { $0.contains(" received") } }
            .flatMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) }
        return (received, result.output)
    }

    /// What `bpftool net` shows attached to the host end (XDP, clsact filters; tcx only with
    /// bpftool 7.3+), or with `inNamespace` to the end inside the namespace; empty when nothing is.
    func attachedPrograms(inNamespace: Bool = false) throws -> [String] {
        let interface = inNamespace ? peerInterface : hostInterface
        let bpftool = ["/usr/sbin/bpftool", "net", "show", "dev", interface]
        let result = inNamespace
            ? try Command.runCapturing("/usr/sbin/ip", ["netns", "exec", namespace] + bpftool)
            : try Command.runCapturing(bpftool[0], Array(bpftool.dropFirst()))
        return result.output.split(separator: "\n").map(String.init).filter { $0.hasPrefix(interface + "(") }
    }
}

/// Whether a BPF program of this name is loaded (`bpftool prog show name NAME`). An attached
/// program stays loaded, so one that is gone is attached nowhere. (bpftool 7.1 does not list
/// tcx attachments in `bpftool net`, so this is how the tc tests see them go.)
func programIsLoaded(named name: String) throws -> Bool {
    try Command.runCapturing("/usr/sbin/bpftool", ["prog", "show", "name", name]).output.contains(" name \(name) ")
}

extension ExampleProcess {
    /// Waits until `marker` has been printed `count` times. trace_pipe admits one reader, so an
    /// example may print its lines long after they were written; the assertions that follow
    /// say what is missing if this times out.
    func waitFor(_ marker: String, count: Int, timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, text.components(separatedBy: marker).count - 1 < count {
            usleep(50_000)
        }
    }
}
