/// Everything needed to load one program, before it exists in the kernel.
public struct ProgramSpec: Hashable, Sendable {
    /// Object name (the kernel keeps the first 15 bytes).
    public var name: String
    public var type: ProgramType
    public var expectedAttachType: AttachType?
    public var instructions: [Instruction]
    public var license: String
    /// Only checked by kernels before 5.0 for kprobes; 0 means "don't care".
    public var kernelVersion: UInt32
    /// `BPF_F_*` program load flags (e.g. `BPF_F_SLEEPABLE` = 1 << 4, `BPF_F_XDP_HAS_FRAGS` = 1 << 5).
    public var flags: UInt32
    /// BTF type id of the attach target (fentry/fexit/tp_btf/lsm/iter/struct_ops).
    public var attachBTFID: UInt32?
    /// The section name the program came from, if any (`tracepoint/syscalls/sys_enter_openat`).
    public var sectionName: String?

    public init(
        name: String = "",
        type: ProgramType,
        expectedAttachType: AttachType? = nil,
        instructions: [Instruction],
        license: String = "GPL",
        kernelVersion: UInt32 = 0,
        flags: UInt32 = 0,
        attachBTFID: UInt32? = nil,
        sectionName: String? = nil
    ) {
        self.name = name
        self.type = type
        self.expectedAttachType = expectedAttachType
        self.instructions = instructions
        self.license = license
        self.kernelVersion = kernelVersion
        self.flags = flags
        self.attachBTFID = attachBTFID
        self.sectionName = sectionName
    }
}
