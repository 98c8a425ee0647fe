import BPF
import BPFObject
import CBPFSys
import Testing

/// BPF_F_LOCK on lookups and updates, with a value whose BTF holds a `struct bpf_spin_lock`.
@Suite(.kernel, .serialized)
struct MapSpinLockTests {
    /// BTF (Documentation/bpf/btf.rst) for: [1] int; [2] struct bpf_spin_lock { int val; };
    /// [3] struct value { struct bpf_spin_lock lock; int data; }.
    static func spinLockBTF() throws -> MapBTFTypes {
        var strings: [UInt8] = [0]
        func name(_ text: String) -> UInt32 {
            let offset = UInt32(strings.count)
            strings += Array(text.utf8) + [0]
            return offset
        }
        var types: [UInt32] = []
        let kindInt: UInt32 = 1, kindStruct: UInt32 = 4
        types += [name("int"), kindInt << 24, 4, 1 << 24 | 32]
        types += [name("bpf_spin_lock"), kindStruct << 24 | 1, 4, name("val"), 1, 0]
        types += [name("value"), kindStruct << 24 | 2, 8, name("lock"), 2, 0, name("data"), 1, 32]
        let typeBytes = types.flatMap { value in withUnsafeBytes(of: value) { Array($0) } }
        var header: [UInt8] = [0x9f, 0xeb, 1, 0]
        for field: UInt32 in [24, 0, UInt32(typeBytes.count), UInt32(typeBytes.count), UInt32(strings.count)] {
            header += withUnsafeBytes(of: field) { Array($0) }
        }
        let blob = header + typeBytes + strings
        let fd = try blob.withUnsafeBytes { buffer in
            var attr = sbpf_btf_load_attr()
            attr.btf = UInt64(UInt(bitPattern: buffer.baseAddress))
            attr.btf_size = UInt32(buffer.count)
            return try BPFSyscall.callReturningFD(.btfLoad, &attr, label: "spin lock BTF")
        }
        return MapBTFTypes(fd: fd, keyTypeID: 1, valueTypeID: 3)
    }

    struct LockedValue: BitwiseCopyable, Equatable {
        var lock: UInt32 = 0
        var data: Int32
    }

    @Test func lockedUpdateAndLookup() throws {
        let map = try Map(MapSpec(name: "maps_spinlock", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4),
                          options: MapCreateOptions(btf: try Self.spinLockBTF()))
        let typed = try HashMap<Int32, LockedValue>(map)
        try typed.update(1, LockedValue(data: 42), flags: .lock)
        #expect(try typed.lookup(1, flags: .lock)?.data == 42)
        try typed.update(1, LockedValue(lock: 0, data: -7), flags: [.lock, .exist])
        #expect(try typed.lookup(1, flags: .lock)?.data == -7)
        // Arrays take the lock flag too.
        let array = try Map(MapSpec(name: "maps_spinarr", type: .array, keySize: 4, valueSize: 8, maxEntries: 2),
                            options: MapCreateOptions(btf: try Self.spinLockBTF()))
        let typedArray = try ArrayMap<LockedValue>(array)
        try typedArray.update(1, LockedValue(data: 5), flags: .lock)
        #expect(try typedArray.lookup(1, flags: .lock).data == 5)
    }
}
