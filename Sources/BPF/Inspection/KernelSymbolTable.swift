import Foundation

/// All of /proc/kallsyms sorted by address, for turning kernel addresses (stack frames,
/// `ksym(addr)`) into `symbol+offset`. Addresses read as zero when kernel.kptr_restrict hides
/// them from the caller; the table is then empty.
public final class KernelSymbolTable: @unchecked Sendable {
    private var addresses: [UInt64] = []
    private var names: [String] = []

    /// Reads /proc/kallsyms once.
    public init() {
        var entries: [(UInt64, String)] = []
        entries.reserveCapacity(1 << 17)
        KernelSymbols.scan { address, name in
            if address != 0 { entries.append((address, String(decoding: name, as: UTF8.self))) }
            return true
        }
        // Stable by address: the first name listed at an address wins (kallsyms lists aliases
        // such as _stext/_text at one address).
        let ordered = entries.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }
        addresses = ordered.map(\.element.0)
        names = ordered.map(\.element.1)
    }

    public var isEmpty: Bool { addresses.isEmpty }

    /// The symbol at or before `address` and the distance into it, or nil below the first symbol.
    public func symbol(containing address: UInt64) -> (name: String, offset: UInt64)? {
        // Last index with addresses[index] <= address.
        var low = 0, high = addresses.count
        while low < high {
            let middle = (low + high) / 2
            if addresses[middle] <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        var index = low - 1
        // Prefer the first alias at that address.
        while index > 0, addresses[index - 1] == addresses[index] { index -= 1 }
        return (names[index], address - addresses[index])
    }
}
