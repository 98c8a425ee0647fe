import BPFObject
import CBPFSys
import Foundation

/// A loaded program's instructions as the kernel runs them (`xlated_prog_insns`), with what is
/// needed to print them the way `bpftool prog dump xlated` does: kernel symbols for rewritten
/// helper calls and the JIT images of subprograms.
public struct TranslatedProgram: Sendable {
    public let instructions: [Instruction]
    /// Start addresses of the JIT images of the main program and each subprogram
    /// (`jited_ksyms`); empty when not JIT-compiled or when kallsyms addresses are hidden.
    public let jitedFunctionAddresses: [UInt64]
    /// Function prototypes and source lines from the program's BTF, when it was loaded with some.
    public let source: ProgramSourceInfo

    /// Reads the translated program behind `fd`.
    public init(fd: OwnedFileDescriptor) throws {
        let bytes = try ProgramInfo.translatedInstructions(fd: fd)
        guard !bytes.isEmpty else {
            throw BPFError.unsupported(feature: "reading translated instructions",
                                       detail: "the kernel returned none for \(fd.label) (kernel.kptr_restrict, or CAP_SYS_ADMIN missing)")
        }
        instructions = [Instruction](decodingInstructions: bytes)
        jitedFunctionAddresses = try ProgramInfo.jitedFunctionAddresses(fd: fd)
        // Source annotations are a bonus: a program whose BTF cannot be read still dumps.
        source = (try? ProgramSourceInfo(fd: fd)) ?? .none
    }

    /// The listing, one line per instruction (`   3: (85) call bpf_map_lookup_elem#1`), each
    /// followed by its raw bytes when `opcodes` is set (bpftool's `opcodes` keyword).
    /// Helper calls in a translated program hold `address - __bpf_call_base`; they are named by
    /// the kernel symbol at that address, as bpftool does, when /proc/kallsyms shows addresses.
    public func lines(opcodes: Bool = false) -> [String] {
        var disassembler = disassembler()
        disassembler.showsOpcodes = false
        var output: [String] = []
        for (index, text, slots) in listing(using: disassembler) {
            // bpftool: the prototype of a function starting here, then its source line.
            if let prototype = source.prototypes[index] { output.append(prototype + ":") }
            if let line = source.sourceLines[index] { output.append("; " + line) }
            let number = String(index)
            output.append(String(repeating: " ", count: max(0, 4 - number.count)) + number + ": " + text)
            if opcodes {
                var bytes: [UInt8] = []
                for slot in slots { slot.encode(into: &bytes) }
                output.append("      " + bytes.map { " " + byteHex($0) }.joined())
            }
        }
        return output
    }

    /// One entry per instruction for structured output: its first slot index, its text without
    /// the index, and its slots (two for `lddw`).
    public func listing() -> [(index: Int, text: String, slots: ArraySlice<Instruction>)] {
        listing(using: disassembler())
    }

    private func listing(using disassembler: Disassembler) -> [(index: Int, text: String, slots: ArraySlice<Instruction>)] {
        instructions.decodedSlots().map { decoded in
            let end = min(instructions.count, decoded.index + decoded.slotCount)
            return (decoded.index, disassembler.text(of: decoded, in: instructions), instructions[decoded.index..<end])
        }
    }

    /// A disassembler for these instructions that names rewritten helper and kfunc calls and
    /// subprogram calls by kernel symbol, as bpftool does; a plain one when /proc/kallsyms
    /// hides addresses.
    public func disassembler() -> Disassembler {
        var wanted: Set<UInt64> = []
        let base = KernelSymbols.address(of: "__bpf_call_base")
        if let base {
            for decoded in instructions.decodedSlots() {
                guard case .success(.call(let target)) = decoded.result else { continue }
                let slot = instructions[decoded.index]
                switch target {
                case .helper, .kfunc: wanted.insert(base &+ UInt64(bitPattern: Int64(slot.immediate)))
                default: break
                }
            }
        }
        wanted.formUnion(jitedFunctionAddresses)
        guard let base, !wanted.isEmpty else { return Disassembler() }
        let names = KernelSymbols.names(at: wanted)
        return Disassembler.translated(callBase: base, jitedFunctionAddresses: jitedFunctionAddresses) { names[$0] }
    }
}

extension ProgramInfo {
    /// Start addresses of the program's JIT images (`jited_ksyms`), main program first.
    public static func jitedFunctionAddresses(fd: OwnedFileDescriptor) throws -> [UInt64] {
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
        // Without CAP_SYSLOG-like visibility the kernel reports zeros.
        return addresses.allSatisfy { $0 == 0 } ? [] : addresses
    }
}

/// Lookups in /proc/kallsyms. Addresses read as zero unless kernel.kptr_restrict allows the
/// caller to see them (root with kptr_restrict ≤ 1).
public enum KernelSymbols {
    /// The address of `symbol`, or nil if absent or hidden.
    public static func address(of symbol: String) -> UInt64? {
        let wanted = Array(symbol.utf8)
        var found: UInt64?
        scan { address, name in
            if address != 0, name.elementsEqual(wanted) { found = address; return false }
            return true
        }
        return found
    }

    /// The first symbol starting at each of `addresses`.
    public static func names(at addresses: Set<UInt64>) -> [UInt64: String] {
        var names: [UInt64: String] = [:]
        scan { address, name in
            if addresses.contains(address), names[address] == nil { names[address] = String(decoding: name, as: UTF8.self) }
            return names.count < addresses.count
        }
        return names
    }

    /// Calls `visit` with each line's address and name bytes until it returns false. Works on
    /// bytes: kallsyms has over 100 000 lines and only a few are wanted.
    static func scan(_ visit: (UInt64, ArraySlice<UInt8>) -> Bool) {
        // procfs reports size 0, so read to the end rather than by size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/kallsyms"),
              let data = try? handle.readToEnd() else { return }
        try? handle.close()
        let bytes = [UInt8](data)
        var index = 0
        // Each line: "ffffffff81000000 T _stext" or "... t name\t[module]".
        while index < bytes.count {
            var address: UInt64 = 0
            while index < bytes.count, let digit = hexValue(bytes[index]) {
                address = address << 4 | UInt64(digit)
                index += 1
            }
            index += 3 // " T "
            let nameStart = min(index, bytes.count)
            while index < bytes.count, bytes[index] != 0x0a, bytes[index] != 0x09 { index += 1 }
            let name = bytes[nameStart..<min(index, bytes.count)]
            while index < bytes.count, bytes[index] != 0x0a { index += 1 }
            index += 1
            if !visit(address, name) { return }
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        case 0x41...0x46: byte - 0x41 + 10
        default: nil
        }
    }
}
