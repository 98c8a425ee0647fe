/// Why a USDT probe cannot be used. Parsing never traps: every bad note, argument spec or layout
/// ends in one of these.
public enum USDTError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A `.note.stapsdt` entry that does not decode.
    case malformedNote(String)
    /// Argument `index` (0-based) of `spec` cannot be read by a BPF program.
    case badArgument(spec: String, index: Int, reason: String)
    /// The probe or file is not what a USDT attach needs.
    case notFound(String)
    /// A probe or semaphore address that no suitable segment maps.
    case addressNotMapped(String)
    /// Argument specs of this machine are not understood (e_machine value).
    case unsupportedArchitecture(UInt16)
    /// The object's `__bpf_usdt_specs` value type cannot hold the spec.
    case specLayout(String)

    public var description: String {
        switch self {
        case .malformedNote(let detail): "malformed USDT note: \(detail)"
        case .badArgument(let spec, let index, let reason): "USDT argument #\(index + 1) of '\(spec)': \(reason)"
        case .notFound(let detail): detail
        case .addressNotMapped(let detail): detail
        case .unsupportedArchitecture(let machine): "USDT argument specs of ELF machine \(machine) are not supported (x86-64 and AArch64 are)"
        case .specLayout(let detail): "USDT spec map layout: \(detail)"
        }
    }
}
