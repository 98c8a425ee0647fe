import CBPFSys
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One CPU's `PERF_COUNT_SW_BPF_OUTPUT` event and its mmap'ed ring: the metadata page
/// (`struct perf_event_mmap_page`) followed by a power-of-two number of data pages.
///
/// The kernel advances `data_head` (release) after writing records; we read records between
/// `data_tail` and `data_head` and publish the new `data_tail` with release ordering so the
/// kernel may overwrite the space (kernel/events/ring_buffer.c, perf_output_begin).
final class PerfEventRing {
    let cpu: Int
    let event: OwnedFileDescriptor
    private let region: MappedRegion
    private let head: UnsafeRawPointer
    private let tail: UnsafeMutableRawPointer
    private let data: UnsafeRawPointer
    private let dataSize: Int
    /// Records that wrap around the end of the data area are copied here to be contiguous.
    private var scratch: UnsafeMutableRawBufferPointer
    /// Lost samples reported by PERF_RECORD_LOST on this CPU.
    var lostSamples: UInt64 = 0

    init(cpu: Int, dataPages: Int, wakeupEvents: UInt32, watermarkBytes: UInt32?) throws {
        var attr = sbpf_perf_event_attr()
        attr.type = SBPF_PERF_TYPE_SOFTWARE
        attr.size = UInt32(MemoryLayout<sbpf_perf_event_attr>.size)
        attr.config = SBPF_PERF_COUNT_SW_BPF_OUTPUT
        attr.sample_type = SBPF_PERF_SAMPLE_RAW
        attr.sample_period = 1
        if let watermarkBytes {
            // Wake the reader once this many bytes are waiting rather than per sample.
            attr.flags |= SBPF_PERF_FLAG_WATERMARK
            attr.wakeup_events = watermarkBytes
        } else {
            attr.wakeup_events = max(1, wakeupEvents)
        }
        let subject = "perf buffer ring of CPU \(cpu)"
        let fd = sbpf_perf_event_open(&attr, -1, Int32(cpu), -1, UInt(SBPF_PERF_FLAG_FD_CLOEXEC))
        guard fd >= 0 else {
            let errno = Errno.current
            let meaning: String? = switch errno {
            case .ENODEV, .EINVAL: "CPU \(cpu) is not online or this kernel has no BPF output software event"
            case .EACCES, .EPERM: "opening perf events for all processes needs CAP_PERFMON (or root), or a lower kernel.perf_event_paranoid"
            case .EMFILE: "out of file descriptors: a perf buffer needs one per CPU"
            default: nil
            }
            throw BPFError.syscall(SystemCallFailure(operation: "perf_event_open", errno: errno, subject: subject, meaning: meaning))
        }
        event = OwnedFileDescriptor(adopting: fd, label: subject)
        dataSize = dataPages * systemPageSize
        region = try MappedRegion(fd: fd, length: systemPageSize + dataSize, offset: 0, writable: true, subject: subject)
        head = UnsafeRawPointer(region.base + Int(SBPF_PERF_MMAP_DATA_HEAD_OFFSET))
        tail = region.base + Int(SBPF_PERF_MMAP_DATA_TAIL_OFFSET)
        data = UnsafeRawPointer(region.base + systemPageSize)
        scratch = .allocate(byteCount: 256, alignment: 8)
        self.cpu = cpu
        guard sbpf_ioctl_int(fd, SBPF_PERF_EVENT_IOC_ENABLE, 0) == 0 else {
            throw BPFError.syscall(SystemCallFailure(operation: "ioctl(PERF_EVENT_IOC_ENABLE)", errno: .current, subject: subject))
        }
    }

    deinit { scratch.deallocate() }

    /// Bytes written by the kernel and not yet read.
    var pendingBytes: Int {
        Int(sbpf_load_acquire_u64(head) &- tail.load(as: UInt64.self))
    }

    /// Reads every record available now: samples go to `sample` (raw data, which the kernel
    /// pads so that the size field plus data is a multiple of 8), lost counts to `lost`.
    /// Returns the number of samples. A throwing `sample` stops after its record.
    func consume(sample: (Int, UnsafeRawBufferPointer) throws -> Void, lost: (Int, UInt64) -> Void) throws -> Int {
        let available = sbpf_load_acquire_u64(head)
        var position = tail.load(as: UInt64.self)
        var samples = 0
        defer { sbpf_store_release_u64(tail, position) }
        while position < available {
            let offset = Int(position & UInt64(dataSize - 1))
            // Records are 8-byte aligned and at least 8 bytes, so the header itself never wraps.
            let type = data.load(fromByteOffset: offset, as: UInt32.self)
            let size = Int(data.load(fromByteOffset: offset + 6, as: UInt16.self))
            guard size >= 8 else {
                // A corrupt header would loop forever; skip everything the kernel has written.
                position = available
                break
            }
            let record: UnsafeRawPointer
            if offset + size <= dataSize {
                record = data + offset
            } else {
                record = UnsafeRawPointer(contiguousCopy(from: offset, size: size))
            }
            position &+= UInt64(size)
            switch type {
            case SBPF_PERF_RECORD_SAMPLE where size >= 12:
                let rawSize = min(Int(record.load(fromByteOffset: 8, as: UInt32.self)), size - 12)
                samples += 1
                try sample(cpu, UnsafeRawBufferPointer(start: record + 12, count: rawSize))
            case SBPF_PERF_RECORD_LOST where size >= 24:
                let count = record.load(fromByteOffset: 16, as: UInt64.self)
                lostSamples &+= count
                lost(cpu, count)
            default:
                break // other record types (throttle, ...) carry nothing for us
            }
        }
        return samples
    }

    private func contiguousCopy(from offset: Int, size: Int) -> UnsafeMutableRawPointer {
        if scratch.count < size {
            scratch.deallocate()
            scratch = .allocate(byteCount: max(size, scratch.count * 2), alignment: 8)
        }
        let firstPart = dataSize - offset
        scratch.baseAddress!.copyMemory(from: data + offset, byteCount: firstPart)
        (scratch.baseAddress! + firstPart).copyMemory(from: data, byteCount: size - firstPart)
        return scratch.baseAddress!
    }

    func disable() { _ = sbpf_ioctl_int(event.rawValue, SBPF_PERF_EVENT_IOC_DISABLE, 0) }
}
