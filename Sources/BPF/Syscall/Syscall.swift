import CBPFSys
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The one seam through which every bpf(2) call passes.
public enum BPFSyscall {
    /// Calls bpf(2) with a per-command attribute record. Retries on EINTR; any other failure
    /// becomes `BPFError.syscall` naming the command, the subject and the errno's meaning.
    @discardableResult
    public static func call<Attribute>(
        _ command: BPFCommand,
        _ attribute: inout Attribute,
        subject: @autoclosure () -> String? = nil,
        meaning: ((Errno) -> String?)? = nil
    ) throws -> Int32 {
        switch invoke(command, &attribute) {
        case .success(let value): return value
        case .failure(let errno):
            throw BPFError.syscall(SystemCallFailure(
                operation: command.description, errno: errno, subject: subject(), meaning: meaning?(errno)))
        }
    }

    /// The non-throwing form: the result or the errno. Useful where a failure is an answer
    /// (feature probes, "no next key").
    public static func invoke<Attribute>(_ command: BPFCommand, _ attribute: inout Attribute) -> Result<Int32, Errno> {
        while true {
            let result = withUnsafeMutablePointer(to: &attribute) { pointer in
                sbpf_bpf(command.rawValue, pointer, UInt32(MemoryLayout<Attribute>.size))
            }
            if result >= 0 { return .success(Int32(truncatingIfNeeded: result)) }
            let error = Errno.current
            if error == .EINTR { continue }
            return .failure(error)
        }
    }

    /// Calls bpf(2) for a command that returns a new file descriptor, and takes ownership of it.
    public static func callReturningFD<Attribute>(
        _ command: BPFCommand,
        _ attribute: inout Attribute,
        label: String,
        meaning: ((Errno) -> String?)? = nil
    ) throws -> OwnedFileDescriptor {
        let fd = try call(command, &attribute, subject: label, meaning: meaning)
        return OwnedFileDescriptor(adopting: fd, label: label)
    }
}

/// The address of a buffer as the kernel's `__aligned_u64` pointer field.
@inline(__always)
func kernelPointer(_ pointer: UnsafeRawPointer?) -> UInt64 {
    UInt64(UInt(bitPattern: pointer))
}

/// Copies a Swift string into a fixed C `char[16]` object-name field, truncated to 15 bytes
/// and keeping only the characters the kernel accepts in names (alphanumerics, '_' and '.').
func setObjectName<T>(_ name: String, into field: inout T) {
    let allowed = name.utf8.filter { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
    withUnsafeMutableBytes(of: &field) { buffer in
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        for (index, byte) in allowed.prefix(min(15, buffer.count - 1)).enumerated() { buffer[index] = byte }
    }
}

/// Reads a fixed C `char[N]` field as a Swift string.
func stringFromCField<T>(_ field: T) -> String {
    withUnsafeBytes(of: field) { buffer in
        let bytes = buffer.prefix(while: { $0 != 0 })
        return String(decoding: bytes, as: UTF8.self)
    }
}
