import BPFObject
import Foundation

/// The helper functions the running kernel defines, by id, read from `enum bpf_func_id` in its
/// own BTF (/sys/kernel/btf/vmlinux): the list a probe must cover, without guessing from a
/// header of another kernel version.
///
/// The scan below reads only type headers and one enum; it should move onto the full BTF
/// parser in BPFObject once that is available.
public enum KernelHelperCatalog {
    /// Helper id → name (`bpf_map_lookup_elem`), 1 up to the kernel's `__BPF_FUNC_MAX_ID` - 1.
    /// Falls back to the ids SwiftBPF knows when the kernel has no BTF.
    public static let helpers: [(id: Int32, name: String)] = {
        if let data = FileManager.default.contents(atPath: "/sys/kernel/btf/vmlinux"),
           let values = enumValues(named: "bpf_func_id", inBTF: [UInt8](data)) {
            let prefix = "BPF_FUNC_"
            return values.compactMap { name, value in
                guard name.hasPrefix(prefix), value > 0, value <= Int64(Int32.max) else { return nil }
                return (Int32(value), "bpf_" + name.dropFirst(prefix.count))
            }.sorted { $0.id < $1.id }
        }
        return HelperFunction.allCases.filter { $0.rawValue > 0 }.map { ($0.rawValue, $0.kernelName) }
    }()

    /// The name of helper `id`, or `unknown#ID`.
    public static func name(of id: Int32) -> String {
        helpers.first(where: { $0.id == id })?.name ?? "unknown#\(id)"
    }

    /// The enumerators of the first BTF enum called `name`; nil if the data is malformed or has
    /// no such enum. Bounds-checked: any input is safe.
    static func enumValues(named wanted: String, inBTF data: [UInt8]) -> [(String, Int64)]? {
        func u32(_ offset: Int) -> UInt32? {
            guard offset >= 0, offset + 4 <= data.count else { return nil }
            return UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3]) << 24
        }
        // struct btf_header: magic u16 0xeB9F, version u8, flags u8, hdr_len, type_off, type_len, str_off, str_len.
        guard data.count >= 24, data[0] == 0x9f, data[1] == 0xeb, let headerLength = u32(4), let typeOffset = u32(8),
              let typeLength = u32(12), let stringOffset = u32(16), let stringLength = u32(20) else { return nil }
        let typesStart = Int(headerLength) + Int(typeOffset)
        let typesEnd = typesStart + Int(typeLength)
        let stringsStart = Int(headerLength) + Int(stringOffset)
        let stringsEnd = stringsStart + Int(stringLength)
        guard typesEnd <= data.count, stringsEnd <= data.count else { return nil }
        func string(_ offset: UInt32) -> String? {
            let start = stringsStart + Int(offset)
            guard start < stringsEnd else { return nil }
            var end = start
            while end < stringsEnd, data[end] != 0 { end += 1 }
            return String(decoding: data[start..<end], as: UTF8.self)
        }
        let wantedBytes = Array(wanted.utf8)
        func nameMatches(_ offset: UInt32) -> Bool {
            let start = stringsStart + Int(offset)
            guard start + wantedBytes.count < stringsEnd else { return false }
            return data[start..<(start + wantedBytes.count)].elementsEqual(wantedBytes) && data[start + wantedBytes.count] == 0
        }
        var offset = typesStart
        while offset + 12 <= typesEnd {
            guard let nameOffset = u32(offset), let info = u32(offset + 4) else { return nil }
            let kind = (info >> 24) & 0x1f
            let vlen = Int(info & 0xffff)
            let body = offset + 12
            // Bytes that follow `struct btf_type` for each kind (include/uapi/linux/btf.h).
            let trailing: Int
            switch kind {
            case 1: trailing = 4                       // INT
            case 3: trailing = 12                      // ARRAY
            case 4, 5: trailing = 12 * vlen            // STRUCT, UNION: btf_member
            case 6: trailing = 8 * vlen                // ENUM: btf_enum
            case 13: trailing = 8 * vlen               // FUNC_PROTO: btf_param
            case 14: trailing = 4                      // VAR
            case 15: trailing = 12 * vlen              // DATASEC: btf_var_secinfo
            case 17: trailing = 4                      // DECL_TAG
            case 19: trailing = 12 * vlen              // ENUM64
            case 2, 7, 8, 9, 10, 11, 12, 16, 18: trailing = 0
            default: return nil
            }
            guard body + trailing <= typesEnd else { return nil }
            if kind == 6 || kind == 19, nameMatches(nameOffset) {
                let isSigned = info >> 31 != 0
                var values: [(String, Int64)] = []
                let stride = kind == 6 ? 8 : 12
                for index in 0..<vlen {
                    let entry = body + index * stride
                    guard let entryName = u32(entry).flatMap(string), let low = u32(entry + 4) else { return nil }
                    let value: Int64
                    if kind == 6 {
                        value = isSigned ? Int64(Int32(bitPattern: low)) : Int64(low)
                    } else {
                        guard let high = u32(entry + 8) else { return nil }
                        value = Int64(bitPattern: UInt64(high) << 32 | UInt64(low))
                    }
                    values.append((entryName, value))
                }
                return values
            }
            offset = body + trailing
        }
        return nil
    }
}
