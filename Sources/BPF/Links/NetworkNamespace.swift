#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BPFObject

/// A program attached to a whole network namespace through a netns BPF link (BPF_LINK_CREATE
/// with the namespace's descriptor, kernel 5.8+): a flow dissector (BPF_FLOW_DISSECTOR) or an
/// sk_lookup program (BPF_SK_LOOKUP). It detaches when closed or released.
public final class NetworkNamespaceAttachment: Link, @unchecked Sendable {
    public let attachType: AttachType
    public let kernelLink: KernelLink
    public var description: String { kernelLink.description }

    /// Attaches `program` to the network namespace of the calling thread (or the one at
    /// `namespacePath`, such as /run/netns/NAME).
    public static func attach(_ program: Program, attachType: AttachType, namespacePath: String? = nil) throws -> NetworkNamespaceAttachment {
        let expected: ProgramType
        switch attachType {
        case .flowDissector: expected = .flowDissector
        case .skLookup: expected = .skLookup
        default:
            throw BPFError.invalidArgument("\(attachType.name) is not a network-namespace hook (flow_dissector or sk_lookup)")
        }
        guard program.type == expected else {
            throw BPFError.invalidArgument("\(program.fd.label) is a \(program.type.name) program; \(attachType.name) needs a \(expected.name) program")
        }
        // thread-self: a thread may have entered another namespace with setns(2).
        let path = namespacePath ?? "/proc/thread-self/ns/net"
        let raw = open(path, O_RDONLY | O_CLOEXEC)
        guard raw >= 0 else {
            let error = Errno.current
            if error == .ENOENT { throw BPFError.notFound(what: "network namespace", detail: path) }
            throw BPFError.syscall(SystemCallFailure(operation: "open", errno: error, subject: path, meaning: "could not open the network namespace"))
        }
        let namespace = OwnedFileDescriptor(adopting: raw, label: "network namespace \(path)")
        let name = program.name.isEmpty ? "program" : "program '\(program.name)'"
        let link = try KernelLink.create(program: program, targetFD: try namespace.value(), attachType: attachType,
                                         description: "\(attachType.name) \(name) on network namespace \(path)") { errno in
            switch errno {
            // The kernel allows one program per namespace and hook, and says so with E2BIG.
            case .E2BIG, .EEXIST: "a \(attachType.name) program is already attached to this network namespace (one per namespace)"
            case .EINVAL: "\(path) is not a network namespace, or this kernel has no netns links for \(attachType.name)"
            default: nil
            }
        }
        return NetworkNamespaceAttachment(attachType: attachType, kernelLink: link)
    }

    private init(attachType: AttachType, kernelLink: KernelLink) {
        self.attachType = attachType
        self.kernelLink = kernelLink
    }

    public func close() throws { try kernelLink.close() }
}
