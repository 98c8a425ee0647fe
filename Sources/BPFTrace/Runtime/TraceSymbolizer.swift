import BPF
import BPFObject
import Foundation

/// Names kernel and user addresses the way bpftrace prints them: `ksym`/`usym` values and the
/// frames of `kstack`/`ustack`. Kernel addresses resolve through /proc/kallsyms; user addresses
/// through the process's /proc/PID/maps and the ELF symbols of the mapped file. Everything read
/// is cached for the session (symbolising must not make output wait, a bpftrace pain).
public final class TraceSymbolizer {
    /// Reads a stack's addresses: (frame limit of its stack-trace map, stack id).
    let readStack: (Int, UInt32) -> [UInt64]
    private lazy var kernel = KernelSymbolTable()
    private var mappings: [Int32: [ProcessMapping]] = [:]
    private var files: [String: ELFAddressSymbols?] = [:]
    /// `CompiledScript.probeNames`: what `probe` values (indices) print as.
    public var probeNames: [String] = []

    public init(readStack: @escaping (Int, UInt32) -> [UInt64]) {
        self.readStack = readStack
    }

    /// `sym+off` (or just `sym`), or the address in hex when no symbol holds it.
    public func kernelSymbol(_ address: UInt64, offset: Bool) -> String {
        guard let symbol = kernel.symbol(containing: address) else { return Self.hex(address) }
        return offset ? "\(symbol.name)+\(symbol.offset)" : symbol.name
    }

    /// `sym+off (module)` for user address `address` in process `pid`; the address in hex (and
    /// `([unknown])`) when the process or symbol is gone.
    public func userSymbol(_ address: UInt64, processID: Int32, offset: Bool, module: Bool) -> String {
        guard let (path, symbol) = resolveUser(address, processID: processID) else {
            return Self.hex(address) + (module ? " ([unknown])" : "")
        }
        guard let symbol else { return Self.hex(address) + (module ? " (\(path))" : "") }
        return (offset ? "\(symbol.name)+\(symbol.offset)" : symbol.name) + (module ? " (\(path))" : "")
    }

    /// The frames of a kernel stack, one line each without indentation.
    func kernelStack(_ id: UInt64, _ stack: TraceStack) -> [String] {
        let stackID = Int32(truncatingIfNeeded: id)
        guard stackID >= 0 else { return [] }
        return readStack(stack.limit, UInt32(stackID)).prefix(stack.limit).map { address in
            switch stack.mode {
            case .bpftrace: kernelSymbol(address, offset: true)
            case .perf: "\t" + String(address, radix: 16) + " " + kernelSymbol(address, offset: true)
            }
        }
    }

    /// The frames of a user stack (`id`: stack id low, pid high).
    func userStack(_ id: UInt64, _ stack: TraceStack) -> [String] {
        let stackID = Int32(truncatingIfNeeded: id)
        let processID = Int32(truncatingIfNeeded: id >> 32)
        guard stackID >= 0 else { return [] }
        return readStack(stack.limit, UInt32(stackID)).prefix(stack.limit).map { address in
            switch stack.mode {
            case .bpftrace: userSymbol(address, processID: processID, offset: true, module: false)
            case .perf: "\t" + String(address, radix: 16) + " " + userSymbol(address, processID: processID, offset: true, module: true)
            }
        }
    }

    static func hex(_ address: UInt64) -> String {
        // C++'s `<< (void *)addr`, which bpftrace uses: 0 prints as "0".
        address == 0 ? "0" : "0x" + String(address, radix: 16)
    }

    private func resolveUser(_ address: UInt64, processID: Int32) -> (String, (name: String, offset: UInt64)?)? {
        var regions = mappings[processID]
        if regions == nil || !regions!.contains(where: { $0.contains(address) }) {
            // First sight of the process, or a mapping added since (dlopen): read the maps again.
            if let fresh = ProcessMapping.read(processID: processID) { regions = fresh; mappings[processID] = fresh }
        }
        guard let region = regions?.first(where: { $0.contains(address) && $0.path.hasPrefix("/") }) else { return nil }
        let symbols = symbolsOfFile(region.path, processID: processID)
        let fileOffset = address - region.start + region.fileOffset
        guard let symbols, let virtual = symbols.virtualAddress(ofFileOffset: fileOffset) else { return (region.path, nil) }
        return (region.path, symbols.symbol(containing: virtual))
    }

    private func symbolsOfFile(_ path: String, processID: Int32) -> ELFAddressSymbols? {
        if let cached = files[path] { return cached }
        // The process may live in another mount namespace: its root is /proc/PID/root.
        let data = FileManager.default.contents(atPath: "/proc/\(processID)/root" + path) ?? FileManager.default.contents(atPath: path)
        let file = data.flatMap { try? ELFFile(bytes: [UInt8]($0)) }
        var debugFile: ELFFile?
        if let file, !file.sections.contains(where: { $0.type == .symtab }), let id = ELFAddressSymbols.buildID(of: file) {
            // Stripped: local symbols (e.g. libc's __libc_start_call_main) live in the debug file.
            let debugPath = "/usr/lib/debug/.build-id/\(id.prefix(2))/\(id.dropFirst(2)).debug"
            debugFile = FileManager.default.contents(atPath: debugPath).flatMap { try? ELFFile(bytes: [UInt8]($0)) }
        }
        let symbols = file.map { ELFAddressSymbols($0, debugFile: debugFile) }
        files[path] = symbols
        return symbols
    }
}

/// One line of /proc/PID/maps: `start-end perms offset dev inode path`.
struct ProcessMapping: Hashable {
    var start: UInt64
    var end: UInt64
    var fileOffset: UInt64
    var path: String

    func contains(_ address: UInt64) -> Bool { address >= start && address < end }

    static func read(processID: Int32) -> [ProcessMapping]? {
        // procfs files report size 0: read to the end (a sized read would stop after one page).
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(processID)/maps"), let data = try? handle.readToEnd() else { return nil }
        try? handle.close()
        return parse(String(decoding: data, as: UTF8.self))
    }

    /// Parses the maps text; malformed lines are skipped.
    static func parse(_ text: String) -> [ProcessMapping] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { return nil }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                  let offset = UInt64(fields[2], radix: 16) else { return nil }
            let path = fields.count > 5 ? fields[5].trimmingCharacters(in: .whitespaces) : ""
            return ProcessMapping(start: start, end: end, fileOffset: offset, path: path)
        }
    }
}
