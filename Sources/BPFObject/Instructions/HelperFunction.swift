/// Kernel helper functions by id (`enum bpf_func_id`, include/uapi/linux/bpf.h `___BPF_FUNC_MAPPER`).
///
/// TODO(isa): complete table of every helper the kernel documents.
public enum HelperFunction: Int32, CaseIterable, Sendable {
    case unspec = 0
    case mapLookupElem = 1
    case mapUpdateElem = 2
    case mapDeleteElem = 3
    case probeRead = 4
    case ktimeGetNs = 5
    case tracePrintk = 6
    case getPrandomU32 = 7
    case getSmpProcessorId = 8
    case tailCall = 12
    case getCurrentPidTgid = 14
    case getCurrentUidGid = 15
    case getCurrentComm = 16
    case perfEventOutput = 25
    case probeReadUser = 112
    case probeReadKernel = 113
    case probeReadUserStr = 114
    case probeReadKernelStr = 115
    case ringbufOutput = 130
    case ringbufReserve = 131
    case ringbufSubmit = 132
    case ringbufDiscard = 133

    /// The kernel's name without the `bpf_` prefix handling: `bpf_map_lookup_elem`.
    public var kernelName: String {
        var name = "bpf_"
        for character in String(describing: self) {
            if character.isUppercase { name += "_" + character.lowercased() } else { name.append(character) }
        }
        return name
    }
}

extension Assembler {
    /// `call helper`.
    public mutating func call(_ helper: HelperFunction) { call(helperID: helper.rawValue) }
}
