import BPF
import BPFObject
import Foundation
import Testing
import TestSupport

/// Objects nobody in this project wrote: the skeletons embedded in Debian's libbpf-tools, the
/// xdp-tools/libxdp objects and cilium/ebpf's testdata, collected by scripts/realworld-objects.sh
/// (which installs libbpf-tools, xdp-tools and golang-github-cilium-ebpf-dev). Each must parse
/// or fail with an ObjectError, load with our loader exactly when libbpf loads it, and every CO-RE
/// relocation libbpf logs must get the same value (or the same poisoning) from CORERelocator.
/// Two deliberate differences: we reject an unknown SEC() name when parsing where libbpf opens the
/// object and fails at load (both refuse to load it), and we accept legacy `maps` section
/// definitions (struct bpf_map_def, as cilium/ebpf and iproute2 do) that libbpf 1.x refuses to open.
@Suite(.kernel, .serialized)
struct RealWorldObjectTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs the collection script once per test process; returns the object paths, sorted.
    static let objects: Result<[String], any Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-realworld-\(getpid())").path
        let collect = try ChildProcess.run("/bin/sh", [root.appendingPathComponent("scripts/realworld-objects.sh").path, directory])
        guard collect.status == 0 else { throw BPFError.invalidArgument("realworld-objects.sh failed: \(collect.stderr)") }
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { directory + "/" + $0 }
    }

    /// The libbpf oracle (Benchmarks/CORERelocation/libbpf_relocation_oracle.c), built once.
    static let oracle: Result<String, any Error> = Result {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbpf-realworld-oracle-\(getpid())").path
        let build = try ChildProcess.run("/usr/bin/cc", [
            "-O1", CORELibbpfComparisonTests.sourceDirectory.appendingPathComponent("libbpf_relocation_oracle.c").path, "-lbpf", "-o", path,
        ])
        guard build.status == 0 else { throw BPFError.invalidArgument("building the libbpf oracle failed (libbpf-dev?): \(build.stderr)") }
        return path
    }

    /// The name of the function symbol that holds instruction `index` of ELF section `section`.
    static func function(holding index: Int, section: Int, symbols: [ELFSymbol]) -> String? {
        symbols.filter { Int($0.sectionIndex) == section && $0.type == .function && Int($0.value) <= index * 8 }
            .max { $0.value < $1.value }?.name
    }

    struct Row {
        var object: String
        var libbpf: String
        var ours: String
        var relocations = 0
    }

    /// Resolves every CO-RE record of the object against vmlinux and checks each one libbpf
    /// logged: same local spec, same poisoning, same patched value. Returns how many were compared.
    static func compareCORE(_ name: String, _ bytes: [UInt8], _ btf: BTF, _ ext: BTFExt, _ libbpfOutput: String, _ vmlinux: BTF) throws -> Int {
        guard !ext.coreRelocations.isEmpty else { return 0 }
        let libbpf = CORELibbpfComparisonTests.parse(libbpfOutput)
        let elf = try ELFFile(bytes: bytes)
        let symbols = try elf.symbols()
        var compared = 0
        for section in ext.coreRelocations {
            guard let elfSection = elf.section(named: try ext.sectionName(section, in: btf)) else { continue }
            var instructions = [Instruction](decodingInstructions: Array(try elf.data(of: elfSection)))
            let results = try CORERelocator.apply(records: section.records, to: &instructions, localBTF: btf, targets: [vmlinux])
            for result in results {
                // libbpf numbers relocations per section and logs them under the program holding the instruction.
                guard let program = function(holding: result.instructionIndex, section: elfSection.index, symbols: symbols),
                      let theirs = libbpf.relocations[program]?[result.relocationIndex] else { continue }
                let context = "\(name) \(program) relo #\(result.relocationIndex) <\(result.kind.name)> \(result.localSpec)"
                compared += 1
                #expect(theirs.localSpec == result.localSpec, "\(context): local spec, libbpf \(theirs.localSpec ?? "none")")
                if result.poisoned {
                    #expect(!theirs.poisonedInstructions.isEmpty, "\(context): we poison, libbpf patched \(theirs.patches.map(\.new))")
                } else {
                    #expect(theirs.poisonedInstructions.isEmpty, "\(context): libbpf poisoned, we patched \(result.targetValue)")
                    let valuePatch = theirs.patches.first { $0.field != "mem_sz" }
                    #expect(valuePatch?.new == result.targetValue, "\(context): libbpf \(valuePatch.map { "\($0.new)" } ?? "nothing"), ours \(result.targetValue)")
                }
            }
        }
        // Every relocation libbpf logged for this object was compared.
        let logged = libbpf.relocations.values.reduce(0) { $0 + $1.count }
        #expect(compared == logged, "\(name): libbpf logged \(logged) CO-RE relocations, \(compared) matched ours")
        return compared
    }

    @Test func objectsParseLoadAndRelocateLikeLibbpf() throws {
        let objects = try Self.objects.get()
        let oracle = try Self.oracle.get()
        try #require(objects.count >= 60, "only \(objects.count) objects collected")
        let vmlinux = try BTF(contentsOfFile: "/sys/kernel/btf/vmlinux")
        var rows: [Row] = []
        var relocationsCompared = 0
        var loadedByBoth = 0
        for path in objects {
            let name = URL(fileURLWithPath: path).lastPathComponent
            var row = Row(object: name, libbpf: "", ours: "")
            // xdp-tools maps are pinned by name in /sys/fs/bpf (LIBBPF_PIN_BY_NAME), by libbpf and
            // by us: remove the pins this object created so nothing outlives the test.
            let pinsBefore = Set((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf")) ?? [])
            defer {
                let pinned = Set(((try? ObjectSpec(elf: [UInt8](FileManager.default.contents(atPath: path) ?? Data()), name: "pins"))?.maps ?? [])
                    .filter { $0.pinning == .byName }.map(\.name))
                for pin in Set((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf")) ?? []).subtracting(pinsBefore)
                where pinned.contains(pin) {
                    try? FileManager.default.removeItem(atPath: "/sys/fs/bpf/" + pin)
                }
            }
            let libbpfRun = try ChildProcess.run(oracle, [path])
            let libbpfOpened = !libbpfRun.stdout.contains("OPEN FAILED")
            let libbpfLoaded = libbpfRun.stdout.contains("LOAD RESULT 0\n")
            let libbpfRefusesLegacyMaps = libbpfRun.stdout.contains("legacy map definitions in 'maps' section are not supported")
            row.libbpf = libbpfLoaded ? "loads" : libbpfOpened ? "load fails" : "open fails"

            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let spec: ObjectSpec
            do {
                spec = try ObjectSpec(elf: bytes, name: ObjectSpec.objectName(forPath: path))
            } catch let error as ObjectError {
                row.ours = "parse: \(error)"
                #expect(!libbpfLoaded, "\(name): libbpf loads it, we reject it: \(error)")
                // libbpf still relocated it before failing: compare CO-RE from the raw sections.
                let elf = try ELFFile(bytes: bytes)
                if libbpfOpened, let btfSection = elf.section(named: ".BTF"), let extSection = elf.section(named: ".BTF.ext") {
                    let btf = try BTF(Array(elf.data(of: btfSection)))
                    row.relocations = try Self.compareCORE(name, bytes, btf, try BTFExt(Array(elf.data(of: extSection))), libbpfRun.stdout, vmlinux)
                    relocationsCompared += row.relocations
                }
                rows.append(row)
                continue
            }
            let ours = Result { try ObjectLoader(spec: spec).load() }
            switch ours {
            case .success: row.ours = "loads"
            case .failure(let error): row.ours = "load fails: \(String(describing: error).prefix(100).split(separator: "\n").first ?? "")"
            }
            let weLoaded = (try? ours.get()) != nil
            if libbpfRefusesLegacyMaps && weLoaded { row.ours += " (legacy maps section)" }
            else { #expect(libbpfLoaded == weLoaded, "\(name): libbpf \(row.libbpf), ours \(row.ours)") }
            if libbpfLoaded && weLoaded { loadedByBoth += 1 }

            if libbpfOpened, let btf = spec.btf, let ext = spec.btfExt {
                row.relocations = try Self.compareCORE(name, bytes, btf, ext, libbpfRun.stdout, vmlinux)
                relocationsCompared += row.relocations
            }
            rows.append(row)
        }
        let width = rows.map(\.object.count).max() ?? 10
        print("object".padding(toLength: width, withPad: " ", startingAt: 0) + "  libbpf      CO-RE  ours")
        for row in rows {
            print(row.object.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + row.libbpf.padding(toLength: 10, withPad: " ", startingAt: 0) + "  "
                + String(row.relocations).padding(toLength: 5, withPad: " ", startingAt: 0) + "  " + row.ours)
        }
        print("real-world objects: \(rows.count), loaded by both: \(loadedByBoth), CO-RE relocations compared with libbpf: \(relocationsCompared)")
        #expect(loadedByBoth >= 20)
        #expect(relocationsCompared >= 700)
    }
}
