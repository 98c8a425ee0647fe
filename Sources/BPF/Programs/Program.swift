import BPFObject
import CBPFSys

/// A loaded BPF program, owning its file descriptor.
public final class Program: @unchecked Sendable {
    public let fd: OwnedFileDescriptor
    public let name: String
    public let type: ProgramType
    public let expectedAttachType: AttachType?
    /// The verifier log of a successful load, when one was requested (`logLevel > 0`).
    public let verifierLog: String?

    public init(fd: OwnedFileDescriptor, name: String, type: ProgramType, expectedAttachType: AttachType?, verifierLog: String? = nil) {
        self.fd = fd
        self.name = name
        self.type = type
        self.expectedAttachType = expectedAttachType
        self.verifierLog = verifierLog
    }

    /// Loads `spec` into the kernel.
    ///
    /// Like cilium/ebpf, the first attempt runs without a log (fast); only on failure is the load
    /// repeated with a log buffer, grown until the whole log fits, so the error can show it.
    public convenience init(_ spec: ProgramSpec, options: ProgramLoadOptions = ProgramLoadOptions()) throws {
        let label = spec.name.isEmpty ? "\(spec.type.name) program" : "program '\(spec.name)'"
        guard !spec.instructions.isEmpty else { throw BPFError.invalidArgument("\(label) has no instructions") }
        let encoded = spec.instructions.encoded()
        var logSize = options.logLevel > 0 ? options.initialLogSize : 0
        var attempts = 0
        while true {
            attempts += 1
            var log = [UInt8](repeating: 0, count: logSize)
            var attr = sbpf_prog_load_attr()
            let result: Result<Int32, Errno> = encoded.withUnsafeBytes { insns in
                spec.license.withCString { license in
                    log.withUnsafeMutableBytes { logBuffer in
                        options.fdArray.withUnsafeBytes { fdArray in
                            attr.prog_type = spec.type.rawValue
                            attr.insn_cnt = UInt32(spec.instructions.count)
                            attr.insns = kernelPointer(insns.baseAddress)
                            attr.license = kernelPointer(license)
                            attr.kern_version = spec.kernelVersion
                            attr.prog_flags = spec.flags
                            setObjectName(spec.name, into: &attr.prog_name)
                            attr.expected_attach_type = spec.expectedAttachType?.rawValue ?? 0
                            attr.attach_btf_id = spec.attachBTFID ?? 0
                            attr.attach_prog_fd = options.attachTargetFD.map { UInt32(bitPattern: $0) } ?? 0
                            attr.prog_btf_fd = options.programBTFFD.map { UInt32(bitPattern: $0) } ?? 0
                            attr.prog_ifindex = options.interfaceIndex ?? 0
                            if !options.fdArray.isEmpty { attr.fd_array = kernelPointer(fdArray.baseAddress) }
                            if let lineInfo = options.lineInfo {
                                attr.line_info_rec_size = lineInfo.recordSize
                                attr.line_info_cnt = lineInfo.count
                                attr.line_info = lineInfo.address
                            }
                            if let funcInfo = options.funcInfo {
                                attr.func_info_rec_size = funcInfo.recordSize
                                attr.func_info_cnt = funcInfo.count
                                attr.func_info = funcInfo.address
                            }
                            if logSize > 0 {
                                attr.log_level = max(options.logLevel, 1)
                                attr.log_size = UInt32(logSize)
                                attr.log_buf = kernelPointer(logBuffer.baseAddress)
                            }
                            return BPFSyscall.invoke(.progLoad, &attr)
                        }
                    }
                }
            }
            let logText = String(decoding: log.prefix(while: { $0 != 0 }), as: UTF8.self)
            switch result {
            case .success(let raw):
                self.init(fd: OwnedFileDescriptor(adopting: raw, label: label), name: spec.name, type: spec.type,
                          expectedAttachType: spec.expectedAttachType, verifierLog: logSize > 0 ? logText : nil)
                return
            case .failure(.EAGAIN) where attempts < 5:
                continue // the verifier may ask to retry when interrupted by a signal
            case .failure(.ENOSPC) where logSize > 0 && logSize < ProgramLoadOptions.maximumLogSize:
                // The log did not fit: the kernel (6.4+) tells the size it needs.
                let needed = Int(attr.log_true_size)
                logSize = min(ProgramLoadOptions.maximumLogSize, needed > logSize ? needed + 1 : logSize * 4)
            case .failure(let errno) where logSize == 0 && errno != .EPERM && errno != .ENOMEM:
                // Possibly a verifier rejection (EACCES, EINVAL, ENOTSUPP, E2BIG...): load again
                // with a log to explain it.
                logSize = options.initialLogSize
            case .failure(let errno):
                if !logText.isEmpty {
                    throw BPFError.verifierRejected(VerifierRejection(programName: spec.name.isEmpty ? label : spec.name, errno: errno, log: logText))
                }
                let meaning: String? = switch errno {
                case .EPERM: Program.btfAttachedLoadRefusal(spec) ?? "loading programs needs root, or CAP_BPF plus CAP_PERFMON (tracing) or CAP_NET_ADMIN (networking)"
                case .E2BIG: "the program is too large (\(spec.instructions.count) instructions) for this kernel"
                default: nil
                }
                throw BPFError.syscall(SystemCallFailure(operation: BPFCommand.progLoad.description, errno: errno, subject: label, meaning: meaning))
            }
        }
    }

    /// Closes the program's descriptor now (it stays loaded while links or pins hold it).
    public func close() throws { try fd.close() }

    /// Runs the program once or `repeat` times on `data` with BPF_PROG_TEST_RUN.
    public func testRun(_ input: TestRunInput = TestRunInput()) throws -> TestRunResult {
        var dataOut = [UInt8](repeating: 0, count: input.dataOutSize ?? max(input.data.count + 256, 256))
        var contextOut = [UInt8](repeating: 0, count: input.context.isEmpty ? 0 : input.context.count)
        var attr = sbpf_prog_test_run_attr()
        let result: Result<Int32, Errno> = input.data.withUnsafeBytes { dataIn in
            dataOut.withUnsafeMutableBytes { dataOutBuffer in
                input.context.withUnsafeBytes { contextIn in
                    contextOut.withUnsafeMutableBytes { contextOutBuffer in
                        attr.prog_fd = UInt32(bitPattern: fd.rawValue)
                        // Raw tracepoint and syscall programs run once on a context only: the
                        // kernel refuses repeat, data and ctx_out for them (EINVAL).
                        let contextOnly = type == .rawTracepoint || type == .rawTracepointWritable || type == .syscall
                        attr.repeat = contextOnly ? 0 : input.repeatCount
                        attr.flags = input.flags
                        attr.cpu = input.cpu ?? 0
                        if !input.data.isEmpty {
                            attr.data_in = kernelPointer(dataIn.baseAddress)
                            attr.data_size_in = UInt32(input.data.count)
                            attr.data_out = kernelPointer(dataOutBuffer.baseAddress)
                            attr.data_size_out = UInt32(dataOutBuffer.count)
                        }
                        if !input.context.isEmpty {
                            attr.ctx_in = kernelPointer(contextIn.baseAddress)
                            attr.ctx_size_in = UInt32(input.context.count)
                            if !contextOnly {
                                attr.ctx_out = kernelPointer(contextOutBuffer.baseAddress)
                                attr.ctx_size_out = UInt32(contextOutBuffer.count)
                            }
                        }
                        return BPFSyscall.invoke(.progTestRun, &attr)
                    }
                }
            }
        }
        if case .failure(let errno) = result {
            if errno == .EBADF, !fd.isOpen { throw BPFError.closed(fd.label) }
            let meaning: String? = switch errno {
            case .ENOTSUPP, .EOPNOTSUPP: "BPF_PROG_TEST_RUN is not supported for \(type.name) programs on this kernel"
            case .EINVAL: "the kernel refused the test input (data or context size/shape wrong for \(type.name))"
            default: nil
            }
            throw BPFError.syscall(SystemCallFailure(operation: BPFCommand.progTestRun.description, errno: errno, subject: fd.label, meaning: meaning))
        }
        return TestRunResult(
            returnValue: attr.retval,
            data: Array(dataOut.prefix(Int(attr.data_size_out))),
            context: Array(contextOut.prefix(Int(attr.ctx_size_out))),
            averageDurationNanoseconds: attr.duration)
    }
}

/// Options for loading a program that are not part of its spec (they depend on the live system).
public struct ProgramLoadOptions: Sendable {
    /// Verifier log level for successful loads (0: no log; 1: basic; 2: verbose; 4: stats).
    public var logLevel: UInt32 = 0
    public var initialLogSize = 64 * 1024
    static let maximumLogSize = 1 << 30
    /// For fentry/fexit/freplace: the target program's fd. For BTF-attached kernel targets in a
    /// module: the module BTF object's fd.
    public var attachTargetFD: Int32?
    /// The program's BTF (needed with func/line info).
    public var programBTFFD: Int32?
    /// Device to offload to or bind to (XDP dev-bound).
    public var interfaceIndex: UInt32?
    /// Map/BTF fds referenced by index from instructions (`BPF_PSEUDO_MAP_IDX`, kfunc BTF fds).
    public var fdArray: [Int32] = []
    /// Raw `bpf_line_info`/`bpf_func_info` records; the caller keeps the memory alive for the load.
    public var lineInfo: InfoRecords?
    public var funcInfo: InfoRecords?

    /// Where BPF_PROG_LOAD reads a program's BTF line or function records: user memory, record size and count.
    public struct InfoRecords: Sendable {
        public var address: UInt64
        public var recordSize: UInt32
        public var count: UInt32
        public init(address: UInt64, recordSize: UInt32, count: UInt32) {
            self.address = address
            self.recordSize = recordSize
            self.count = count
        }
    }

    public init() {}
}

/// Input of one BPF_PROG_TEST_RUN.
public struct TestRunInput: Sendable {
    /// Packet data (XDP, TC, socket filter, ...).
    public var data: [UInt8] = []
    /// Context (e.g. `struct __sk_buff`, raw tracepoint args).
    public var context: [UInt8] = []
    public var repeatCount: UInt32 = 1
    /// `BPF_F_TEST_RUN_ON_CPU` = 1, `BPF_F_TEST_XDP_LIVE_FRAMES` = 2.
    public var flags: UInt32 = 0
    public var cpu: UInt32?
    /// Size of the output data buffer (default: input size + 256).
    public var dataOutSize: Int?

    public init(data: [UInt8] = [], context: [UInt8] = [], repeatCount: UInt32 = 1, flags: UInt32 = 0, cpu: UInt32? = nil) {
        self.data = data
        self.context = context
        self.repeatCount = repeatCount
        self.flags = flags
        self.cpu = cpu
    }
}

/// What one BPF_PROG_TEST_RUN returned.
public struct TestRunResult: Sendable {
    /// The program's return value (e.g. XDP_PASS = 2).
    public var returnValue: UInt32
    public var data: [UInt8]
    public var context: [UInt8]
    public var averageDurationNanoseconds: UInt32
}
