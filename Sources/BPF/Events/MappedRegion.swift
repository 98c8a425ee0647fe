#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One mmap(2) of a kernel object's pages (a ring buffer map, a perf event ring), unmapped when
/// its owner lets go. The owner keeps the descriptor alive as long as the region.
final class MappedRegion: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let length: Int

    /// Maps `length` bytes of `fd` at `offset`, shared with the kernel.
    init(fd: Int32, length: Int, offset: Int, writable: Bool, subject: String) throws {
        let protection = writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        guard let address = mmap(nil, length, protection, MAP_SHARED, fd, off_t(offset)), address != MAP_FAILED else {
            let errno = Errno.current
            let meaning: String? = switch errno {
            case .EPERM where writable: "the kernel allows user space to write only the consumer position page; the rest is read-only"
            case .ENOMEM, .EAGAIN: "could not map \(length) bytes: the locked-memory limit (RLIMIT_MEMLOCK, perf_event_mlock_kb) or address space is exhausted"
            case .EINVAL: "the kernel refused this mapping (size \(length), offset \(offset)): the map type or size does not allow it"
            default: nil
            }
            throw BPFError.syscall(SystemCallFailure(operation: "mmap", errno: errno, subject: subject, meaning: meaning))
        }
        self.base = address
        self.length = length
    }

    deinit { munmap(base, length) }
}

/// The system page size: ring buffers and perf rings are laid out in pages.
let systemPageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
