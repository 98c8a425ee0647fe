import BPFObject
import Foundation

/// The helper functions the running kernel defines, by id, read from `enum bpf_func_id` in its
/// own BTF (/sys/kernel/btf/vmlinux): the list a probe must cover, without guessing from a
/// header of another kernel version.
public enum KernelHelperCatalog {
    /// Helper id → name (`bpf_map_lookup_elem`), 1 up to the kernel's `__BPF_FUNC_MAX_ID` - 1.
    /// Falls back to the ids SwiftBPF knows when the kernel has no BTF.
    public static let helpers: [(id: Int32, name: String)] = {
        if let btf = try? KernelBTF.vmlinux(), let values = helperIDs(in: btf) { return values }
        return HelperFunction.allCases.filter { $0.rawValue > 0 }.map { ($0.rawValue, $0.kernelName) }
    }()

    /// The name of helper `id`, or `unknown#ID`.
    public static func name(of id: Int32) -> String {
        helpers.first(where: { $0.id == id })?.name ?? "unknown#\(id)"
    }

    /// The `BPF_FUNC_*` enumerators of `enum bpf_func_id` in `btf`, as (id, `bpf_` name), or nil
    /// if the BTF has no such enum.
    public static func helperIDs(in btf: BTF) -> [(id: Int32, name: String)]? {
        guard let id = btf.typeIDs(named: "bpf_func_id", kind: .enum).first, let type = try? btf.type(id) else { return nil }
        let prefix = "BPF_FUNC_"
        return type.enumerators.compactMap { enumerator in
            let value = enumerator.isSigned ? enumerator.signedValue : Int64(bitPattern: enumerator.value)
            guard enumerator.name.hasPrefix(prefix), value > 0, value <= Int64(Int32.max) else { return nil }
            return (Int32(value), "bpf_" + enumerator.name.dropFirst(prefix.count))
        }.sorted { $0.id < $1.id }
    }
}
