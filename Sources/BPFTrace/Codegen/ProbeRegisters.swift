import Foundation

/// `reg("name")`: the registers a probe's `struct pt_regs` context holds, by bpftrace's names.
enum ProbeRegisters {
    #if arch(arm64)
    /// The architecture's name in bpftrace's "not a valid register" message.
    static let architecture = "aarch64"
    /// arm64 `struct pt_regs` starts with `struct user_pt_regs` (arch/arm64/include/uapi/asm/ptrace.h):
    /// `regs[31]`, `sp`, `pc`, `pstate`, each a u64.
    static let offsets: [String: Int16] = {
        var table: [String: Int16] = [:]
        for index in 0..<31 { table["r\(index)"] = Int16(index * 8) }
        table["sp"] = 248
        table["pc"] = 256
        table["pstate"] = 264
        return table
    }()
    #else
    static let architecture = "x86_64"
    /// x86-64 `struct pt_regs` (arch/x86/include/asm/ptrace.h): fifteen general registers,
    /// orig_ax, then the hardware frame (ip, cs, flags, sp, ss), each a u64.
    static let offsets: [String: Int16] = {
        let names = ["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
                     "orig_ax", "ip", "cs", "flags", "sp", "ss"]
        return Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, Int16($0.offset * 8)) })
    }()
    #endif
}

extension TraceCompiler {
    enum CgroupIDLookup: Equatable {
        case success(UInt64)
        case failure(String)
    }

    /// `cgroupid(path)` is resolved at compile time: on cgroup v2 a cgroup's id (what
    /// bpf_get_current_cgroup_id returns) is the inode number of its kernfs directory.
    static func cgroupID(path: String) -> CgroupIDLookup {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(String(cString: strerror(errno))) }
        return .success(UInt64(info.st_ino))
    }
}

extension TraceCompiler {
    /// `pton(text)`: the address's bytes in network order. As bpftrace, a '.' makes it IPv4
    /// (4 bytes) and otherwise a ':' IPv6 (16 bytes), parsed by inet_pton(3) rules.
    enum NetworkAddressParse: Equatable {
        case address([UInt8])
        /// Neither '.' nor ':'.
        case notAnAddress
        /// inet_pton refused it.
        case invalid
    }

    static func parseNetworkAddress(_ text: String) -> NetworkAddressParse {
        let family: Int32, count: Int
        if text.contains(".") { (family, count) = (AF_INET, 4) } else if text.contains(":") { (family, count) = (AF_INET6, 16) } else { return .notAnAddress }
        var bytes = [UInt8](repeating: 0, count: count)
        return inet_pton(family, text, &bytes) == 1 ? .address(bytes) : .invalid
    }

    static func networkAddress(_ text: String) -> [UInt8]? {
        if case .address(let bytes) = parseNetworkAddress(text) { return bytes }
        return nil
    }
}
