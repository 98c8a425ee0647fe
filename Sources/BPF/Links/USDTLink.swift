import BPFObject
import Foundation

/// A program attached to every site of one USDT probe (<sys/sdt.h>): one uprobe per site at the
/// note's file offset, each counting the probe's semaphore (the uprobe PMU's `ref_ctr_offset`)
/// and carrying as BPF cookie the index of its argument spec in the object's
/// `__bpf_usdt_specs` map, where usdt.bpf.h's `bpf_usdt_arg()` finds it.
///
/// Closing it detaches every site and frees the spec slots for later attaches.
public final class USDTLink: Link, @unchecked Sendable {
    /// One uprobe per probe site.
    public let sites: [PerfEventLink]
    /// The spec slots this attach filled (one per distinct argument list).
    public let specIDs: [UInt32]
    public let description: String
    private let allocator: USDTSpecIDAllocator?
    private let lock = NSLock()
    private var isClosed = false

    init(sites: [PerfEventLink], specIDs: [UInt32], allocator: USDTSpecIDAllocator?, description: String) {
        self.sites = sites
        self.specIDs = specIDs
        self.allocator = allocator
        self.description = description
    }

    public func close() throws {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { throw BPFError.closed(description) }
        isClosed = true
        for site in sites { try? site.close() }
        // The spec values stay in the map: a slot is rewritten before its next use.
        allocator?.release(specIDs)
    }

    deinit {
        if !isClosed { try? close() }
    }
}

/// Free slots of one object's `__bpf_usdt_specs` map. Slots are reused after their link closes,
/// like libbpf does, so repeated attach/detach cycles do not run the map out.
final class USDTSpecIDAllocator: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [UInt32] = []
    private var next: UInt32 = 0

    /// `count` slots below `capacity`, or nil when the map is full.
    func allocate(_ count: Int, capacity: UInt32) -> [UInt32]? {
        lock.lock()
        defer { lock.unlock() }
        let fresh = Int(capacity) - Int(next)
        guard count <= free.count + max(0, fresh) else { return nil }
        var ids: [UInt32] = []
        while ids.count < count, let id = free.popLast() { ids.append(id) }
        while ids.count < count {
            ids.append(next)
            next += 1
        }
        return ids
    }

    func release(_ ids: [UInt32]) {
        lock.lock()
        defer { lock.unlock() }
        free.append(contentsOf: ids)
    }
}

extension LoadedObject {
    /// The map usdt.bpf.h declares for argument specs and its companion for kernels without BPF
    /// cookies.
    static let usdtSpecMapName = "__bpf_usdt_specs"

    /// Attaches `program` (a kprobe-type program, section `usdt` or `usdt/...`) to every site of
    /// USDT probe `provider:name` in `binary` (a path, a library name or an executable found in
    /// `$PATH`), in every process running it or only in `processID`. `cookie` is what
    /// `bpf_usdt_cookie()` returns in the program.
    ///
    /// Arguments are described to the program through the object's `__bpf_usdt_specs` map (from
    /// usdt.bpf.h); an object without it still attaches, its program simply cannot read them.
    public func attachUSDT(program programName: String, binary: String, provider: String, name probeName: String,
                           processID: Int32? = nil, cookie: UInt64 = 0) throws -> USDTLink {
        let program = try self.program(named: programName)
        let label = "usdt \(binary):\(provider):\(probeName)"
        guard program.type == .kprobe else {
            throw BPFError.invalidArgument("\(label) needs a kprobe-type program (SEC(\"usdt\")); '\(programName)' is \(program.type.name)")
        }
        let path = try UprobeTarget.resolveBinary(binary, processID: processID)
        let file = try UprobeTarget.readELF(path)
        guard let architecture = USDTArchitecture(machine: file.header.machine) else {
            throw BPFError.unsupported(feature: "USDT probes in \(path)", detail: "\(USDTError.unsupportedArchitecture(file.header.machine))")
        }
        guard architecture == USDTArchitecture.host else {
            throw BPFError.invalidArgument("\(path) is for ELF machine \(file.header.machine), not this machine's architecture")
        }
        let sites: [USDTProbeSite]
        do {
            sites = try file.usdtProbeSites(provider: provider, name: probeName)
        } catch let error as USDTError {
            throw BPFError.invalidArgument("\(path): \(error)")
        }
        guard !sites.isEmpty else {
            let known = ((try? file.usdtNotes()) ?? []).map { "\($0.provider):\($0.name)" }
            var unique: [String] = []
            for probe in known where !unique.contains(probe) { unique.append(probe) }
            throw BPFError.notFound(what: "USDT probe \(provider):\(probeName) in \(path)",
                                    detail: unique.isEmpty ? "the file has no .note.stapsdt probes" : "its probes: \(unique.prefix(30).joined(separator: ", "))")
        }

        // One spec per distinct argument list, in first-seen order.
        var specTexts: [String] = []
        for site in sites where !specTexts.contains(site.note.arguments) { specTexts.append(site.note.arguments) }
        var specIDs: [UInt32] = []
        var specOfText: [String: UInt32] = [:]
        if let specMap = maps[Self.usdtSpecMapName] {
            // Known only once an attach has answered; otherwise the first attach with a cookie
            // reports missing perf links itself (PerfEventLink), without a probe program here.
            guard PerfLinkSupport.mayHaveLinks else {
                throw BPFError.unsupported(feature: "USDT arguments (\(label))", detail: "they are passed as BPF cookies, which need perf links (Linux 5.15+)")
            }
            let layout = try usdtSpecLayout(map: specMap)
            var values: [[UInt8]] = []
            do {
                for text in specTexts {
                    let arguments = try USDTArgument.parseList(text, architecture: architecture)
                    values.append(try layout.encode(arguments, cookie: cookie, spec: text))
                }
            } catch let error as USDTError {
                throw BPFError.invalidArgument("\(label): \(error)")
            }
            guard let ids = usdtSpecIDs.allocate(values.count, capacity: UInt32(clamping: specMap.maxEntries)) else {
                throw BPFError.invalidArgument("\(label): \(Self.usdtSpecMapName) has \(UInt32(clamping: specMap.maxEntries)) slots and too few are free for \(values.count) more specs; define BPF_USDT_MAX_SPEC_CNT larger before including usdt.bpf.h")
            }
            do {
                for (id, value) in zip(ids, values) {
                    try specMap.update(withUnsafeBytes(of: id.littleEndian) { Array($0) }, value)
                }
            } catch {
                usdtSpecIDs.release(ids)
                throw error
            }
            specIDs = ids
            for (text, id) in zip(specTexts, ids) { specOfText[text] = id }
        }

        var links: [PerfEventLink] = []
        do {
            for site in sites {
                let target = UprobeTarget(binary: path, location: .fileOffset(site.fileOffset), processID: processID)
                let specID = specOfText[site.note.arguments].map(UInt64.init) ?? 0
                links.append(try program.attachUprobe(target, referenceCounterOffset: site.semaphoreFileOffset, cookie: specID))
            }
        } catch {
            for link in links { try? link.close() }
            usdtSpecIDs.release(specIDs)
            throw error
        }
        let where_ = processID.map { " (pid \($0))" } ?? ""
        return USDTLink(sites: links, specIDs: specIDs, allocator: usdtSpecIDs,
                        description: "usdt \(path):\(provider):\(probeName)\(where_), \(links.count) site\(links.count == 1 ? "" : "s")")
    }

    /// The spec record layout the object's BTF declares for the map's value, checked against the
    /// map's value size.
    func usdtSpecLayout(map: Map) throws -> USDTSpecLayout {
        let layout: USDTSpecLayout
        if let btf = spec.btf, let typeID = spec.map(named: Self.usdtSpecMapName)?.valueTypeID {
            do { layout = try USDTSpecLayout(btf: btf, valueTypeID: typeID) } catch let error as USDTError {
                throw BPFError.invalidArgument("object '\(spec.name)': \(error)")
            }
        } else {
            layout = .libbpf
        }
        guard layout.valueSize == map.valueSize else {
            throw BPFError.invalidArgument("object '\(spec.name)': \(Self.usdtSpecMapName) values are \(map.valueSize) bytes, but struct __bpf_usdt_spec is \(layout.valueSize)")
        }
        return layout
    }
}
