import BPF
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a procfs/tracefs text file to its end. These files report a size of 0 or one page,
/// and Foundation's `String(contentsOfFile:)` stops there (/proc/kallsyms and tracefs
/// `available_events` are megabytes), so they are read until read(2) returns 0.
enum KernelTextFile {
    static func read(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "open", errno: Errno.current, subject: path))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 { bytes += chunk[0..<count]; continue }
            if count == 0 { break }
            if Errno.current == .EINTR { continue }
            throw BPFError.syscall(SystemCallFailure(operation: "read", errno: Errno.current, subject: path))
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
