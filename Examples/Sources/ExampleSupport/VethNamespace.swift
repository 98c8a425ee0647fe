import Foundation

/// A veth pair with one end in a new network namespace, each end addressed in a /24, the
/// smallest network a packet example can ping across. Made and removed with iproute2's `ip`,
/// as a reader of the example would do it by hand; removing the namespace removes the pair.
public final class VethNamespace: @unchecked Sendable {
    public let namespace: String
    /// The end in this process's namespace, `<namespace>-h`.
    public let hostInterface: String
    /// The end inside `namespace`, `<namespace>-p`.
    public let peerInterface: String
    public let hostAddress: String
    public let peerAddress: String
    private var removed = false

    /// `name` names the namespace and prefixes the interfaces (at most 13 bytes, as an
    /// interface name has 15); `subnet` picks 10.`subnet`.0.0/24.
    public init(name: String, subnet: UInt8) throws {
        guard !name.isEmpty, name.utf8.count <= 13 else {
            throw ExampleError("namespace name '\(name)' must have 1 to 13 bytes (interface names are at most 15)")
        }
        namespace = name
        hostInterface = name + "-h"
        peerInterface = name + "-p"
        hostAddress = "10.\(subnet).0.1"
        peerAddress = "10.\(subnet).0.2"
        // A namespace left over by a killed run would make `ip netns add` fail: start clean.
        _ = try? Self.ip(["netns", "del", name])
        do {
            try Self.ip(["netns", "add", name])
            try Self.ip(["link", "add", hostInterface, "type", "veth", "peer", "name", peerInterface, "netns", name])
            try Self.ip(["addr", "add", hostAddress + "/24", "dev", hostInterface])
            try Self.ip(["link", "set", hostInterface, "up"])
            try Self.ip(["-n", name, "addr", "add", peerAddress + "/24", "dev", peerInterface])
            try Self.ip(["-n", name, "link", "set", peerInterface, "up"])
            try Self.ip(["-n", name, "link", "set", "lo", "up"])
        } catch {
            remove()
            throw error
        }
    }

    /// Deletes the pair and the namespace (also on deinit).
    public func remove() {
        guard !removed else { return }
        removed = true
        _ = try? Self.ip(["link", "del", hostInterface])
        _ = try? Self.ip(["netns", "del", namespace])
    }

    deinit { remove() }

    /// Runs `ip ARGS`, throwing with its error output when it fails.
    @discardableResult
    public static func ip(_ arguments: [String]) throws -> String {
        try Command.run("/usr/sbin/ip", arguments)
    }
}

/// A failure of an example's own setup, printed as its message.
public struct ExampleError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
