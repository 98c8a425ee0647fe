/// One 8-byte eBPF instruction slot, exactly as the kernel reads it
/// (`struct bpf_insn`: opcode, dst_reg:4, src_reg:4, off, imm; little-endian on x86_64/arm64).
///
/// A 64-bit immediate load (`lddw`) occupies two slots; the second has opcode 0 and carries the
/// upper 32 bits in `immediate`.
public struct Instruction: Hashable, Sendable {
    public var opcode: UInt8
    /// Destination register number (0...10 are real registers).
    public var dst: UInt8
    /// Source register number, or a pseudo source for `lddw` and `call`.
    public var src: UInt8
    public var offset: Int16
    public var immediate: Int32

    public init(opcode: UInt8, dst: UInt8 = 0, src: UInt8 = 0, offset: Int16 = 0, immediate: Int32 = 0) {
        self.opcode = opcode
        self.dst = dst
        self.src = src
        self.offset = offset
        self.immediate = immediate
    }

    public static let byteCount = 8

    /// Appends the kernel encoding of this slot.
    public func encode(into bytes: inout [UInt8]) {
        bytes.append(opcode)
        bytes.append((src << 4) | (dst & 0x0f))
        let off = UInt16(bitPattern: offset)
        bytes.append(UInt8(truncatingIfNeeded: off))
        bytes.append(UInt8(truncatingIfNeeded: off >> 8))
        let imm = UInt32(bitPattern: immediate)
        for shift in stride(from: 0, to: 32, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: imm >> UInt32(shift)))
        }
    }

    /// Decodes one slot from exactly 8 bytes starting at `index`.
    public init<C: RandomAccessCollection>(decoding bytes: C, at index: C.Index) where C.Element == UInt8 {
        func byte(_ n: Int) -> UInt8 { bytes[bytes.index(index, offsetBy: n)] }
        opcode = byte(0)
        dst = byte(1) & 0x0f
        src = byte(1) >> 4
        offset = Int16(bitPattern: UInt16(byte(2)) | UInt16(byte(3)) << 8)
        immediate = Int32(bitPattern: UInt32(byte(4)) | UInt32(byte(5)) << 8 | UInt32(byte(6)) << 16 | UInt32(byte(7)) << 24)
    }
}

extension Array where Element == Instruction {
    /// The kernel encoding of a whole program.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * Instruction.byteCount)
        for instruction in self { instruction.encode(into: &bytes) }
        return bytes
    }

    /// Decodes a program; trailing bytes that do not fill a slot are ignored.
    public init(decodingInstructions bytes: [UInt8]) {
        self = stride(from: 0, to: bytes.count - bytes.count % Instruction.byteCount, by: Instruction.byteCount)
            .map { Instruction(decoding: bytes, at: $0) }
    }
}
