import BPFObject
import CBPFSys

extension Program {
    /// The program as the kernel runs it after verification (`bpf_prog_info.xlated_prog_insns`):
    /// map fds replaced by map ids, helper calls by `address - __bpf_call_base`, verifier
    /// rewrites (inlined map lookups, `may_goto` counters) applied. This is what
    /// `bpftool prog dump xlated` disassembles; `Disassembler.translated(...)` names its calls.
    ///
    /// Empty when the kernel withholds it (needs CAP_SYS_ADMIN / bpf_dump_raw_ok).
    public func translatedInstructions() throws -> [Instruction] {
        var sizing = sbpf_prog_info()
        try objectInfo(fd: fd, into: &sizing)
        let byteCount = Int(sizing.xlated_prog_len)
        guard byteCount > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: byteCount)
        var info = sbpf_prog_info()
        try bytes.withUnsafeMutableBytes { buffer in
            info.xlated_prog_len = UInt32(byteCount)
            info.xlated_prog_insns = kernelPointer(buffer.baseAddress)
            try objectInfo(fd: fd, into: &info)
        }
        // The kernel copies min(offered, actual) bytes and reports the actual length.
        return [Instruction](decodingInstructions: Array(bytes.prefix(min(byteCount, Int(info.xlated_prog_len)))))
    }

    /// Start addresses of the JIT images of the program's functions, main program first, then
    /// each subprogram (`bpf_prog_info.jited_ksyms`); translated subprogram calls index this list.
    /// Empty for interpreted programs or when kernel addresses are hidden.
    public func jitedFunctionAddresses() throws -> [UInt64] {
        var sizing = sbpf_prog_info()
        try objectInfo(fd: fd, into: &sizing)
        let count = Int(sizing.nr_jited_ksyms)
        guard count > 0 else { return [] }
        var addresses = [UInt64](repeating: 0, count: count)
        var info = sbpf_prog_info()
        try addresses.withUnsafeMutableBytes { buffer in
            info.nr_jited_ksyms = UInt32(count)
            info.jited_ksyms = kernelPointer(buffer.baseAddress)
            try objectInfo(fd: fd, into: &info)
        }
        return Array(addresses.prefix(min(count, Int(info.nr_jited_ksyms))))
    }
}
