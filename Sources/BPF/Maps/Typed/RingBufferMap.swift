import BPFObject
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Creating a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF, Linux 5.8). Reading it is the ring
/// buffer reader's job; this only makes a map the kernel will accept.
public enum RingBufferMap {
    /// The system page size.
    public static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Creates a ring buffer of `size` bytes. The kernel requires a power of two that is a
    /// multiple of the page size (`max_entries` is the data size; keys and values are 0).
    public static func create(name: String, size: Int) throws -> Map {
        try create(name: name, size: size, type: .ringbuf)
    }

    /// A user ring buffer (BPF_MAP_TYPE_USER_RINGBUF, Linux 6.1): user space produces, programs
    /// consume with `bpf_user_ringbuf_drain`.
    public static func createUserRingBuffer(name: String, size: Int) throws -> Map {
        try create(name: name, size: size, type: .userRingbuf)
    }

    static func create(name: String, size: Int, type: MapType) throws -> Map {
        try validate(size: size)
        return try Map(MapSpec(name: name, type: type, keySize: 0, valueSize: 0, maxEntries: UInt32(size)))
    }

    /// Why `size` is not a valid ring buffer size, as an error.
    public static func validate(size: Int) throws {
        let page = pageSize
        guard size > 0, size & (size - 1) == 0, size % page == 0, size <= Int(UInt32.max / 2) + 1 else {
            var suggestion = max(page, 1)
            while suggestion < size && suggestion < (1 << 30) { suggestion <<= 1 }
            throw BPFError.invalidArgument("a ring buffer's size must be a power of two and a multiple of the page size (\(page) bytes); got \(size), try \(suggestion)")
        }
    }
}
