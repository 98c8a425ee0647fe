import BPFObject
import CBPFSys
import Foundation

extension FeatureProbe {
    /// Whether a minimal map of `type` can be created. Local-storage maps need a BTF value type
    /// with a spin lock; the probe loads a tiny BTF blob for them, and reports "needs BTF" if
    /// the kernel refuses that BTF itself.
    public static func mapType(_ type: MapType) -> ProbeResult {
        cache.value(for: "map:\(type.rawValue)") { probeMapType(type) }
    }

    private static func probeMapType(_ type: MapType) -> ProbeResult {
        var attr = sbpf_map_create_attr()
        attr.map_type = type.rawValue
        attr.key_size = 4
        attr.value_size = 4
        attr.max_entries = 1
        var expectedFailure: Errno?
        var keepAlive: [OwnedFileDescriptor] = []
        // Sizes and flags each type insists on (kernel map_alloc_check callbacks).
        switch type {
        case .unspecified:
            return .unavailable(reason: "not a real map type")
        case .stackTrace:
            attr.value_size = 8
        case .lpmTrie:
            attr.key_size = 8
            attr.value_size = 8
            attr.map_flags = MapFlags.noPrealloc.rawValue
        case .cgroupStorage, .percpuCgroupStorage:
            attr.key_size = 16 // struct bpf_cgroup_storage_key
            attr.value_size = 8
            attr.max_entries = 0
        case .queue, .stack:
            attr.key_size = 0
        case .skStorage, .inodeStorage, .taskStorage, .cgrpStorage:
            guard let btf = try? loadLocalStorageBTF() else {
                return .undetermined(reason: "needs BTF, and this kernel refused a minimal BTF blob")
            }
            keepAlive.append(btf)
            attr.btf_fd = UInt32(bitPattern: btf.rawValue)
            attr.btf_key_type_id = 1
            attr.btf_value_type_id = 3
            attr.value_size = 8
            attr.max_entries = 0
            attr.map_flags = MapFlags.noPrealloc.rawValue
        case .ringbuf, .userRingbuf:
            attr.key_size = 0
            attr.value_size = 0
            attr.max_entries = UInt32(sysconf(Int32(_SC_PAGESIZE)))
        case .structOps:
            // Without a real struct_ops type the kernel answers ENOTSUPP once it knows the map type.
            attr.btf_vmlinux_value_type_id = 1
            expectedFailure = .ENOTSUPP
        case .bloomFilter:
            attr.key_size = 0
        case .arena:
            attr.key_size = 0
            attr.value_size = 0
            attr.map_flags = 1 << 10 // BPF_F_MMAPABLE
        case .arrayOfMaps, .hashOfMaps:
            var inner = sbpf_map_create_attr()
            inner.map_type = MapType.hash.rawValue
            inner.key_size = 4
            inner.value_size = 4
            inner.max_entries = 1
            guard case .success(let innerFD) = BPFSyscall.invoke(.mapCreate, &inner) else {
                return .undetermined(reason: "could not create the inner hash map")
            }
            let owned = OwnedFileDescriptor(adopting: innerFD, label: "probe inner map")
            keepAlive.append(owned)
            attr.inner_map_fd = UInt32(bitPattern: innerFD)
        default:
            break
        }
        let result = BPFSyscall.invoke(.mapCreate, &attr)
        withExtendedLifetime(keepAlive) {}
        switch result {
        case .success(let fd):
            close(fd)
            return expectedFailure == nil ? .available : .unavailable(reason: "unexpectedly created")
        case .failure(let errno) where errno == expectedFailure:
            return .available
        case .failure(let errno):
            return .unavailable(reason: errno.name)
        }
    }

    /// A BTF blob with `int` [1], `struct bpf_spin_lock { int val; }` [2] and
    /// `struct val { int cnt; struct bpf_spin_lock l; }` [3]: the value type local storage
    /// maps demand (include/uapi/linux/btf.h encodings).
    static func loadLocalStorageBTF() throws -> OwnedFileDescriptor {
        let strings = Array("\0bpf_spin_lock\0val\0cnt\0l\0".utf8)
        let kindInt: UInt32 = 1, kindStruct: UInt32 = 4
        let types: [UInt32] = [
            0, kindInt << 24, 4, (1 << 24) | 32,          // [1] int: signed, 32 bits
            1, (kindStruct << 24) | 1, 4, 15, 1, 0,        // [2] struct bpf_spin_lock { int val; }
            15, (kindStruct << 24) | 2, 8, 19, 1, 0, 23, 2, 32, // [3] struct val { int cnt; lock l @32 bits }
        ]
        var blob: [UInt8] = []
        func append(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { blob.append(contentsOf: $0) } }
        let typeLength = UInt32(types.count * 4)
        blob.append(contentsOf: [0x9f, 0xeb, 1, 0]) // magic 0xeB9F, version 1, flags 0
        for value in [24, 0, typeLength, typeLength, UInt32(strings.count)] as [UInt32] { append(value) }
        for value in types { append(value) }
        blob.append(contentsOf: strings)
        return try blob.withUnsafeBytes { bytes in
            var attr = sbpf_btf_load_attr()
            attr.btf = kernelPointer(bytes.baseAddress)
            attr.btf_size = UInt32(bytes.count)
            return try BPFSyscall.callReturningFD(.btfLoad, &attr, label: "probe BTF")
        }
    }
}
