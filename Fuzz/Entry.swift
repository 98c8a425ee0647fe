// The one libFuzzer entry point of the BPFObject fuzz binary. All parser targets share one
// build (compiling BPFObject with ASan takes minutes); Fuzz/run.sh picks the target through
// SWIFTBPF_FUZZ_TARGET, read once.
import Foundation

enum FuzzTarget: String, CaseIterable {
    case btf, usdt, object, tracefs, kconfig

    var run: (UnsafeBufferPointer<UInt8>) -> Void {
        switch self {
        case .btf: fuzzBTF
        case .usdt: fuzzUSDT
        case .object: fuzzObject
        case .tracefs: fuzzTracefs
        case .kconfig: fuzzKconfig
        }
    }

    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["SWIFTBPF_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let known = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            fatalError("SWIFTBPF_FUZZ_TARGET='\(name)' is not a fuzz target (known: \(known))")
        }
        return target
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzTarget.selected.run(UnsafeBufferPointer(start: data, count: size))
    return 0
}
