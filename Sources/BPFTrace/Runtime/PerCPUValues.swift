import Foundation

extension TraceSession {
    /// One aggregation value out of a per-CPU map element (the kernel returns one slot per
    /// possible CPU, each the value size rounded up to 8 bytes): counts and sums add up,
    /// `[sum, count]` pairs add up pairwise, min/max take the best of the CPUs that stored a
    /// value (`[value, set]`, see `TraceMapKind.min`).
    static func mergeCPUs(_ value: [UInt8], kind: TraceMapKind) -> [UInt8] {
        let words = (kind.valueSize + 7) / 8
        let slots: [[UInt64]] = value.withUnsafeBytes { bytes in
            stride(from: 0, to: bytes.count - words * 8 + 1, by: words * 8).map { start in
                (0..<words).map { bytes.loadUnaligned(fromByteOffset: start + $0 * 8, as: UInt64.self) }
            }
        }
        var merged = [UInt64](repeating: 0, count: words)
        switch kind {
        case .min(let signed), .max(let signed):
            let isMax = { if case .max = kind { true } else { false } }()
            for slot in slots where slot[1] != 0 {
                let beats = signed
                    ? (isMax ? Int64(bitPattern: slot[0]) > Int64(bitPattern: merged[0]) : Int64(bitPattern: slot[0]) < Int64(bitPattern: merged[0]))
                    : (isMax ? slot[0] > merged[0] : slot[0] < merged[0])
                if merged[1] == 0 || beats { merged = [slot[0], 1] }
            }
        default:
            for slot in slots {
                for index in 0..<words { merged[index] &+= slot[index] }
            }
        }
        return merged.withUnsafeBytes { [UInt8]($0) }
    }
}
