import Foundation
import Testing

/// Runs a command to completion and returns its exit status and merged output.
func runCapturing(_ executable: String, _ arguments: [String]) throws -> (status: Int32, text: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A test's own small network: a veth pair `<name>-h` / `<name>-p`, the second end inside a
/// new network namespace `name`, addressed 10.`subnet`.0.1 and .2. Removed on deinit.
final class TestNetwork {
    let namespace: String
    let hostInterface: String
    let peerInterface: String
    let hostAddress: String
    let peerAddress: String

    init(_ name: String, subnet: Int) throws {
        namespace = name
        hostInterface = name + "-h"
        peerInterface = name + "-p"
        hostAddress = "10.\(subnet).0.1"
        peerAddress = "10.\(subnet).0.2"
        _ = try? runCapturing("/usr/sbin/ip", ["netns", "del", name])
        for arguments in [
            ["netns", "add", name],
            ["link", "add", hostInterface, "type", "veth", "peer", "name", peerInterface, "netns", name],
            ["addr", "add", hostAddress + "/24", "dev", hostInterface],
            ["link", "set", hostInterface, "up"],
            ["-n", name, "addr", "add", peerAddress + "/24", "dev", peerInterface],
            ["-n", name, "link", "set", peerInterface, "up"],
            ["-n", name, "link", "set", "lo", "up"],
        ] {
            let result = try runCapturing("/usr/sbin/ip", arguments)
            guard result.status == 0 else {
                remove()
                throw TestNetworkError(description: "ip \(arguments.joined(separator: " ")): \(result.text)")
            }
        }
    }

    func remove() {
        _ = try? runCapturing("/usr/sbin/ip", ["link", "del", hostInterface])
        _ = try? runCapturing("/usr/sbin/ip", ["netns", "del", namespace])
    }

    deinit { remove() }

    /// `ping -c count -W 1 address`, from the host or (with `fromNamespace`) from inside the
    /// namespace; returns the number of replies ping reports.
    func ping(_ address: String, count: Int = 3, fromNamespace: Bool = false) throws -> (received: Int?, text: String) {
        let pingArguments = ["-c", String(count), "-i", "0.3", "-W", "1", address]
        let result = fromNamespace
            ? try runCapturing("/usr/sbin/ip", ["netns", "exec", namespace, "/usr/bin/ping"] + pingArguments)
            : try runCapturing("/usr/bin/ping", pingArguments)
        // "3 packets transmitted, 0 received, 100% packet loss, time 2031ms"
        let received = result.text.split(separator: "\n").first { $0.contains(" received") }
            .flatMap { $0.split(separator: ",").first { $0.contains(" received") } }
            .flatMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) }
        return (received, result.text)
    }

    /// What `bpftool net` shows attached to the host end (XDP, clsact filters; tcx only with
    /// bpftool 7.3+), or with `inNamespace` to the end inside the namespace; empty when nothing is.
    func attachedPrograms(inNamespace: Bool = false) throws -> [String] {
        let interface = inNamespace ? peerInterface : hostInterface
        let bpftool = ["/usr/sbin/bpftool", "net", "show", "dev", interface]
        let result = inNamespace
            ? try runCapturing("/usr/sbin/ip", ["netns", "exec", namespace] + bpftool)
            : try runCapturing(bpftool[0], Array(bpftool.dropFirst()))
        return result.text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(interface + "(") }
    }
}

/// Whether a BPF program of this name is loaded (`bpftool prog show name NAME`). An attached
/// program stays loaded, so one that is gone is attached nowhere. (bpftool 7.1 does not list
/// tcx attachments in `bpftool net`, so this is how the tc tests see them go.)
func programIsLoaded(named name: String) throws -> Bool {
    try runCapturing("/usr/sbin/bpftool", ["prog", "show", "name", name]).text.contains(" name \(name) ")
}

struct TestNetworkError: Error, CustomStringConvertible { let description: String }

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
