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
        [Instruction](decodingInstructions: try ProgramInfo.translatedInstructions(fd: fd))
    }

    /// Start addresses of the JIT images of the program's functions, main program first, then
    /// each subprogram (`bpf_prog_info.jited_ksyms`); translated subprogram calls index this list.
    /// Empty for interpreted programs or when kernel addresses are hidden.
    public func jitedFunctionAddresses() throws -> [UInt64] {
        try ProgramInfo.jitedFunctionAddresses(fd: fd)
    }
}
