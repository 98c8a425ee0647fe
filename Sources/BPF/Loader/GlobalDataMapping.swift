import BPFObject
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The bytes of a global data section (`.bss`, `.data`, ...) mapped into this process: the
/// single value of its BPF_F_MMAPABLE array map. Unlike `MappedArray`, the value is raw bytes
/// of the section's size, not one Swift type.
final class GlobalDataMapping: @unchecked Sendable {
    let map: Map
    let writable: Bool
    private let base: UnsafeMutableRawPointer
    private let length: Int

    init(map: Map, writable: Bool) throws {
        guard map.type == .array, map.flags.contains(.mmapable) else {
            throw BPFError.invalidArgument("map '\(map.name)' is not a memory-mappable array")
        }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = max(page, (map.valueSize + page - 1) / page * page)
        let address = mmap(nil, bytes, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, try map.fd.value(), 0)
        guard let address, address != MAP_FAILED else {
            throw BPFError.syscall(SystemCallFailure(operation: "mmap", errno: Errno.current, subject: "map '\(map.name)'", meaning: nil))
        }
        self.map = map
        self.writable = writable
        self.base = address
        self.length = bytes
    }

    deinit { munmap(base, length) }

    func read(offset: Int, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: base + offset, count: count))
    }

    func write(_ bytes: [UInt8], at offset: Int) {
        bytes.withUnsafeBytes { (base + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }
}
